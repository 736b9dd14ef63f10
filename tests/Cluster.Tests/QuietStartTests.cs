namespace Flotilla.Cluster.Tests;

/// <summary>A node that is starting or joining is probed on /health (503 by design) and says so calmly.</summary>
[Collection(ApiCluster.Collection)]
public sealed class QuietStartTests(ApiCluster fixture)
{
    [Fact]
    public void UnreadyHealthWhileJoiningIsInformationNotAnError()
    {
        foreach (var (node, log) in fixture.StartLogs)
        {
            // The harness probes /health every 200 ms while each node starts, as the AppHost does;
            // a joiner is still joining at the first probes (the bootstrap node may be ready first).
            if (node != "node1")
            {
                Assert.Contains("is not ready yet (expected while it joins)", log);
            }

            Assert.DoesNotContain("fail: Microsoft.Extensions.Diagnostics.HealthChecks", log);
            Assert.False(log.Contains("Health check cluster-membership with status Unhealthy", StringComparison.Ordinal), $"{node} logged its unready health as an error:{Environment.NewLine}{log}");
        }
    }
}
