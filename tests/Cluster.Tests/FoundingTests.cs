using System.Net;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// A cluster is founded once. The bootstrap node (which always starts with Cluster:Bootstrap)
/// never founds a second cluster when it has data or can reach its old one; a lost member comes
/// back as a new member once the old one is removed with DELETE /cluster/members/{id}.
/// </summary>
public sealed class FoundingTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster = TestCluster.Create(configure: n => n.Settings["Worker:Enabled"] = "false");

    public Task InitializeAsync() => _cluster.StartAsync();

    public Task DisposeAsync() => _cluster.DisposeAsync().AsTask();

    [Fact]
    public async Task ABootstrapNodeThatLostItsMembershipFileNeverFoundsASecondCluster()
    {
        var node1 = _cluster["node1"];
        var job = await TestCluster.SubmitAsync(_cluster["node2"], new { workflow = "echo", payload = "kept" });
        await _cluster.WaitForIdenticalStoresAsync(Timeout);

        // With its cluster running, membership file gone: it has a log, so it does not found; it rejoins as the member it is.
        node1.Kill();
        File.Delete(Path.Combine(node1.DataDir, "members.bin"));
        node1.Start();
        await WatchNeverAloneAsync(node1, until: () => node1.IsHealthyAsync(), "node1 healthy again");
        await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);

        // Alone after a full stop: it waits for its cluster instead of electing itself in a cluster of one.
        foreach (var node in _cluster.Nodes)
        {
            node.Kill();
        }

        // This time the file is there but empty (a crash while it was written).
        File.WriteAllBytes(Path.Combine(node1.DataDir, "members.bin"), []);
        node1.Start();
        var aloneUntil = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        await WatchNeverAloneAsync(node1, until: () => Task.FromResult(DateTime.UtcNow > aloneUntil), "10 s of node1 alone");
        Assert.Contains("never founds a new one", node1.RecentOutput(), StringComparison.Ordinal);

        // Once its cluster runs again, they form one cluster, with its data.
        _cluster["node2"].Start();
        _cluster["node3"].Start();
        if (!node1.IsRunning)
        {
            node1.Start();
        }

        await WatchNeverAloneAsync(node1, until: () => node1.IsHealthyAsync(), "node1 healthy with node2 and node3 back");
        await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
        await TestCluster.SubmitAsync(node1, new { workflow = "echo", payload = "after" });
        await _cluster.WaitForIdenticalStoresAsync(Timeout);
        Assert.NotNull(await TestCluster.GetJobAsync(node1, job.JobId));
    }

    [Fact]
    public async Task ALostBootstrapNodeJoinsItsClusterAsANewMemberOnceTheOldOneIsRemoved()
    {
        var node1 = _cluster["node1"];
        var node2 = _cluster["node2"];
        var job = await TestCluster.SubmitAsync(node2, new { workflow = "echo", payload = "kept" });

        // node1's disk is gone. It still starts with Cluster:Bootstrap, and now knows the others.
        node1.Kill();
        Directory.Delete(node1.DataDir, recursive: true);
        node1.Join = string.Join(',', _cluster.Nodes.Where(n => n != node1).Select(n => n.Url.ToString()));
        node1.Start();

        // It finds the cluster instead of founding one, and is refused while its old self is a member.
        var refusedFor = DateTime.UtcNow + TimeSpan.FromSeconds(8);
        await WatchNeverAloneAsync(node1, until: () => Task.FromResult(DateTime.UtcNow > refusedFor), "8 s of refusals");
        Assert.False(await node1.IsHealthyAsync(), node1.RecentOutput());
        Assert.Contains("lost member", node1.RecentOutput(), StringComparison.Ordinal);

        // Removing a member needs the secret; then the old node1 goes, through a follower (forwarded).
        var oldMember = $"127.0.0.1:{node1.RaftPort}";
        using (var anonymous = new HttpClient { BaseAddress = node2.Url })
        using (var refused = await anonymous.DeleteAsync($"cluster/members/{oldMember}"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using (var unknown = await node2.Http.DeleteAsync("cluster/members/127.0.0.1:1"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        var follower = await FollowerAsync(node1);
        using (var removed = await follower.Http.DeleteAsync($"cluster/members/{oldMember}"))
        {
            Assert.True(removed.StatusCode == HttpStatusCode.OK, $"{(int)removed.StatusCode} {await removed.Content.ReadAsStringAsync()}");
        }

        // The new node1 joins on its own (its joiner keeps asking) and catches up.
        await _cluster.WaitForAsync(() => node1.IsHealthyAsync(), "node1 joined as a new member", Timeout);
        await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
        await _cluster.WaitForIdenticalStoresAsync(Timeout);
        Assert.NotNull(await TestCluster.GetJobAsync(node1, job.JobId));
    }

    private async Task<NodeProcess> FollowerAsync(NodeProcess except)
    {
        var others = _cluster.Nodes.Where(n => n != except).ToList();
        string? leader = null;
        await _cluster.WaitForAsync(
            async () => (leader = (await others[0].TryGetHealthAsync())?.Leader) is not null && others.Any(n => n.NodeId == leader),
            "a leader among the others",
            Timeout);
        return others.First(n => n.NodeId != leader);
    }

    // Polls the node until the condition holds, failing at once if it ever leads a cluster of its own.
    private async Task WatchNeverAloneAsync(NodeProcess node, Func<Task<bool>> until, string what)
    {
        await _cluster.WaitForAsync(
            async () =>
            {
                var health = await node.TryGetHealthAsync();
                Assert.False(
                    health is { HasLeader: true, NodeCount: 1 } || (health?.Leader == node.NodeId && health.NodeCount < _cluster.Nodes.Count),
                    $"{node.NodeId} founded a cluster of its own: {health}{Environment.NewLine}{node.RecentOutput()}");
                return await until();
            },
            what,
            Timeout);
    }
}
