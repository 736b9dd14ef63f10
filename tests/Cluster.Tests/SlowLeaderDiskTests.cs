using System.Collections.Concurrent;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// A leader whose disk is slow keeps its followers (see Node/Cluster/DurableWriteAheadLog.cs).
/// DotNext's leader sends its next round only after the last one's commit, and that commit waits
/// for the leader's own flush: with each msync delayed 400 ms, a flush under writes takes 0.8–1.6 s,
/// longer than every follower's election timeout, so followers with fast disks gave up on a live
/// leader and voted in another one. Commits that wait for the leader's disk now finish on their
/// own while heartbeats and replication go on.
/// </summary>
public sealed class SlowLeaderDiskTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private readonly TestCluster _cluster = TestCluster.Create(configure: n =>
    {
        n.Settings["Worker:Enabled"] = "false"; // the log is under test
        if (n.NodeId == "node1")
        {
            n.SlowFlushMicroseconds = 400_000;
        }
    });

    public Task InitializeAsync() => _cluster.StartAsync(Timeout);

    public Task DisposeAsync() => _cluster.DisposeAsync().AsTask();

    [Fact]
    public async Task FollowersKeepALeaderWhoseDiskIsSlowWhileItTakesWrites()
    {
        var leaderId = await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
        Assert.Equal("node1", leaderId); // the bootstrap node leads first: the slow disk is the leader's
        var leader = _cluster["node1"];
        var term = (await leader.TryGetHealthAsync())!.Term;

        var lostLeader = new ConcurrentQueue<string>();
        foreach (var follower in _cluster.Nodes.Where(n => n != leader))
        {
            follower.OutputLine += line =>
            {
                if (line.Contains("Leader is now none", StringComparison.Ordinal))
                {
                    lostLeader.Enqueue(follower.NodeId);
                }
            };
        }

        var acknowledged = 0;
        var refused = new ConcurrentQueue<string>();
        using var writing = new CancellationTokenSource(TimeSpan.FromSeconds(8));
        var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !writing.IsCancellationRequested; i++)
            {
                try
                {
                    await TestCluster.SubmitAsync(leader, new { workflow = "echo", payload = new { w, i } }, writing.Token);
                    Interlocked.Increment(ref acknowledged);
                }
                catch (OperationCanceledException) when (writing.IsCancellationRequested)
                {
                }
                catch (HttpRequestException e)
                {
                    refused.Enqueue(e.Message);
                }
            }
        })).ToArray();
        await Task.WhenAll(writers);

        Assert.True(acknowledged >= 16, $"only {acknowledged} writes were acknowledged: the leader's disk should slow them, not stop them");
        Assert.Empty(refused);
        Assert.Empty(lostLeader);
        foreach (var node in _cluster.Nodes)
        {
            var health = await node.TryGetHealthAsync();
            Assert.NotNull(health);
            Assert.Equal(("node1", term), (health.Leader, health.Term));
        }
    }
}
