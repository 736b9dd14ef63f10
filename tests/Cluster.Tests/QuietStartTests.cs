namespace Flotilla.Cluster.Tests;

/// <summary>A node that is starting or joining is probed on /health (503 by design) and says so calmly.</summary>
[Collection(ApiCluster.Collection)]
public sealed class QuietStartTests(ApiCluster fixture)
{
    private const string NotReady = "is not ready yet (expected while it joins)";

    [Fact]
    public void NoNodeLogsItsStartAsAnError()
    {
        // The harness probes /health every 200 ms while each node starts, as the AppHost does.
        foreach (var (node, log) in fixture.StartLogs)
        {
            AssertNoHealthErrors(node, log);
        }
    }

    [Fact]
    public async Task AJoinerProbedBeforeItsClusterExistsLogsInformationNotAnError()
    {
        // The joiner starts first, so it is joining for as long as the test wants: on a fast
        // machine a joiner started after its cluster may be a member before the first probe.
        await using var cluster = TestCluster.Create(size: 2);
        var (first, joiner) = (cluster["node1"], cluster["node2"]);
        joiner.Start();
        await cluster.WaitForAsync(async () =>
        {
            await joiner.IsHealthyAsync();
            return joiner.RecentOutput().Contains(NotReady, StringComparison.Ordinal);
        }, "node2 probed while it joins", TimeSpan.FromSeconds(60));
        Assert.False(await joiner.IsHealthyAsync());

        first.Start();
        await cluster.WaitForAsync(() => joiner.IsHealthyAsync(), "node2 healthy once node1 runs", TimeSpan.FromSeconds(60));
        await cluster.WaitForAgreedLeaderAsync(cluster.Nodes, TimeSpan.FromSeconds(60));

        AssertNoHealthErrors(joiner.NodeId, joiner.RecentOutput());
    }

    private static void AssertNoHealthErrors(string node, string log)
    {
        Assert.DoesNotContain("fail: Microsoft.Extensions.Diagnostics.HealthChecks", log);
        // A joiner runs Raft a moment before the leader's entry adds it; its reason then was
        // "is not a member yet: member." (seen whenever a probe fell in that moment).
        Assert.DoesNotContain("not a member yet: member.", log);
        Assert.False(log.Contains("Health check cluster-membership with status Unhealthy", StringComparison.Ordinal), $"{node} logged its unready health as an error:{Environment.NewLine}{log}");
    }
}
