using System.Collections.Concurrent;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// Acknowledged means on disk on a majority. Regression tests for DotNext 6.12's early follower
/// acknowledgement (see Node/Cluster/DurableWriteAheadLog.cs) and for the leader's own flush:
/// some nodes' flushes are slowed, every node is killed under acknowledged writes, and the
/// nodes that may lack the latest entries come back first so one of them may lead. Every job
/// the cluster acknowledged must still be there, and all databases must agree.
/// </summary>
public sealed class DurabilityTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private TestCluster? _cluster;

    private TestCluster Cluster => _cluster ?? throw new InvalidOperationException("No cluster started.");

    public Task InitializeAsync() => Task.CompletedTask; // each test starts the cluster its scenario needs

    public Task DisposeAsync() => _cluster?.DisposeAsync().AsTask() ?? Task.CompletedTask;

    /// <summary>Slow followers, restarted first: a follower must not acknowledge before its flush.</summary>
    [Fact]
    public Task EveryAcknowledgedJobSurvivesACrashOfEveryNode() =>
        CrashEveryNodeAsync(slow: ["node2", "node3"], restartFirst: ["node2", "node3"]);

    /// <summary>
    /// A slow leader and one slow follower, restarted first while the fast follower stays down:
    /// writes are acknowledged by the leader and the fast follower, so they survive only if the
    /// leader counted itself after its own flush.
    /// </summary>
    [Fact]
    public Task TheLeaderCountsItselfOnlyOnceItsOwnCopyIsOnDisk() =>
        CrashEveryNodeAsync(slow: ["node1", "node2"], restartFirst: ["node1", "node2"]);

    private async Task StartAsync(IReadOnlyCollection<string> slow)
    {
        var flushBeforeAck = Environment.GetEnvironmentVariable("FLOTILLA_TEST_FLUSH_BEFORE_ACK") ?? "true";
        _cluster = TestCluster.Create(configure: n =>
        {
            n.Settings["Cluster:ElectionTimeoutMs"] = "3000";
            n.Settings.Remove("Cluster:ElectionTimeoutMaxMs");
            n.Settings["Cluster:FlushBeforeAck"] = flushBeforeAck;
            n.Settings["Worker:Enabled"] = "false"; // the log is under test; running jobs would keep the stores moving
            if (slow.Contains(n.NodeId))
            {
                n.SlowFlushMicroseconds = 200_000;
            }
        });
        await _cluster.StartAsync(TimeSpan.FromSeconds(90));
    }

    // Waits until the node has applied what the cluster committed, then reports its state.
    private async Task<StoreStateDto> WaitForAppliedAsync(NodeProcess node, TimeSpan timeout)
    {
        StoreStateDto? state = null;
        await Cluster.WaitForAsync(
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

    private async Task CrashEveryNodeAsync(IReadOnlyCollection<string> slow, IReadOnlyCollection<string> restartFirst)
    {
        await StartAsync(slow);
        var leaderId = await Cluster.WaitForAgreedLeaderAsync(Cluster.Nodes, Timeout);
        Assert.Equal("node1", leaderId); // the bootstrap node leads first, so the roles are as planned
        var leader = Cluster[leaderId];
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
        foreach (var node in Cluster.Nodes)
        {
            node.Kill();
        }

        await writing.CancelAsync();
        await Task.WhenAll(writers);
        Assert.True(acknowledged.Count > 20, $"only {acknowledged.Count} writes were acknowledged before the crash");

        // The nodes that may lack the latest entries come back first and elect one of themselves.
        var first = Cluster.Nodes.Where(n => restartFirst.Contains(n.NodeId)).ToList();
        foreach (var node in Cluster.Nodes)
        {
            node.SlowFlushMicroseconds = 0;
        }

        foreach (var node in first)
        {
            node.Start();
        }

        await Cluster.WaitForAsync(
            async () => (await Task.WhenAll(first.Select(n => n.TryGetHealthAsync())))
                .All(h => h is { HasLeader: true } && first.Any(n => n.NodeId == h.Leader)),
            "a leader among the nodes restarted first",
            Timeout);

        foreach (var node in Cluster.Nodes.Except(first))
        {
            node.Start();
        }

        await Cluster.WaitForAgreedLeaderAsync(Cluster.Nodes, Timeout);

        // Commit something new so every node has applied past the crash point.
        await TestCluster.SubmitAsync(first[0], new { workflow = "echo", payload = "after" });
        await Task.WhenAll(Cluster.Nodes.Select(n => WaitForAppliedAsync(n, TimeSpan.FromSeconds(30))));
        var lost = new List<string>();
        foreach (var node in Cluster.Nodes)
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
        // A follower may learn the last commit a moment after the others: identical once it has.
        await Cluster.WaitForIdenticalStoresAsync(TimeSpan.FromSeconds(30));
    }
}
