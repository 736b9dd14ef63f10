using System.Collections.Concurrent;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// The regression test for DotNext 6.12's early follower acknowledgement (see
/// Node/Cluster/DurableWriteAheadLog.cs): followers whose flushes are slow, every node killed
/// under acknowledged writes, the followers restarted first so one of them leads. Every job the
/// cluster acknowledged must still be there, and all databases must agree.
/// </summary>
public sealed class DurabilityTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private readonly TestCluster _cluster;

    public DurabilityTests()
    {
        var flushBeforeAck = Environment.GetEnvironmentVariable("FLOTILLA_TEST_FLUSH_BEFORE_ACK") ?? "true";
        _cluster = TestCluster.Create(configure: n =>
        {
            n.Settings["Cluster:ElectionTimeoutMs"] = "3000";
            n.Settings["Cluster:FlushBeforeAck"] = flushBeforeAck;
            n.Settings["Worker:Enabled"] = "false"; // the log is under test; running jobs would keep the stores moving
            if (n.NodeId != "node1")
            {
                n.SlowFlushMicroseconds = 200_000;
            }
        });
    }

    // Waits until the node has applied what the cluster committed, then reports its state.
    private async Task<StoreStateDto> WaitForAppliedAsync(NodeProcess node, TimeSpan timeout)
    {
        StoreStateDto? state = null;
        await _cluster.WaitForAsync(
            async () =>
            {
                var health = await node.TryGetHealthAsync();
                state = await node.GetStateAsync();
                return health is { HasLeader: true } && state.AppliedIndex >= health.CommitIndex;
            },
            $"{node.NodeId} to apply the committed log",
            timeout);
        return state!;
    }

    public Task InitializeAsync() => _cluster.StartAsync(TimeSpan.FromSeconds(90));

    public Task DisposeAsync() => _cluster.DisposeAsync().AsTask();

    [Fact]
    public async Task EveryAcknowledgedJobSurvivesACrashOfEveryNode()
    {
        var leaderId = await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
        Assert.Equal("node1", leaderId); // the slowed nodes must be the followers
        var leader = _cluster[leaderId];
        var acknowledged = new ConcurrentBag<string>();

        using var writing = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !writing.IsCancellationRequested; i++)
            {
                try
                {
                    var job = await TestCluster.SubmitAsync(leader, new { workflow = "echo", payload = new { w, i } }, writing.Token);
                    acknowledged.Add(job.JobId);
                }
                catch (Exception) when (writing.IsCancellationRequested)
                {
                }
                catch (HttpRequestException)
                {
                }
            }
        })).ToArray();

        await Task.Delay(TimeSpan.FromSeconds(4));
        foreach (var node in _cluster.Nodes)
        {
            node.Kill();
        }

        await writing.CancelAsync();
        await Task.WhenAll(writers);
        Assert.True(acknowledged.Count > 20, $"only {acknowledged.Count} writes were acknowledged before the crash");

        // The followers come back first and elect one of themselves.
        foreach (var node in _cluster.Nodes.Where(n => n.NodeId != leaderId))
        {
            node.SlowFlushMicroseconds = 0;
            node.Start();
        }

        var survivors = _cluster.Nodes.Where(n => n.NodeId != leaderId).ToList();
        await _cluster.WaitForAsync(
            async () => (await Task.WhenAll(survivors.Select(n => n.TryGetHealthAsync())))
                .All(h => h is { HasLeader: true } && h.Leader != leaderId),
            "a leader among the restarted followers",
            Timeout);

        leader.Start();
        await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);

        // Commit something new so every node has applied past the crash point.
        await TestCluster.SubmitAsync(survivors[0], new { workflow = "echo", payload = "after" });
        var settled = await Task.WhenAll(_cluster.Nodes.Select(n => WaitForAppliedAsync(n, TimeSpan.FromSeconds(30))));
        var lost = new List<string>();
        foreach (var node in _cluster.Nodes)
        {
            var missing = 0;
            foreach (var id in acknowledged)
            {
                missing += await TestCluster.GetJobAsync(node, id) is null ? 1 : 0;
            }

            if (missing > 0)
            {
                lost.Add($"{node.NodeId} lost {missing} of {acknowledged.Count} acknowledged jobs");
            }
        }

        Assert.True(lost.Count == 0, string.Join("; ", lost));
        Assert.Single(settled.Select(s => (s.AppliedIndex, s.Checksum)).Distinct());
    }
}
