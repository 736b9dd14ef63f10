using System.Net;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// Issue 7, defect 3: a node whose database writes fail (here a real ENOSPC, injected by strace
/// into the leader's SQLite writes) cannot apply committed entries. It must say so — unhealthy,
/// with the reason in /health and /cluster/health — step down while it leads, keep retrying,
/// and recover by itself once the disk works again, with the same database as the others.
/// </summary>
public sealed class ApplyFaultTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly TestCluster _cluster = TestCluster.Create(configure: n => n.Settings["Worker:Enabled"] = "false");

    public Task InitializeAsync() => _cluster.StartAsync();

    public Task DisposeAsync() => _cluster.DisposeAsync().AsTask();

    [Fact]
    public async Task ALeaderThatCannotApplyReportsWhyStepsDownAndRecoversWhenTheDiskWorksAgain()
    {
        var leaderId = await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
        var leader = _cluster[leaderId];
        var followers = _cluster.Nodes.Where(n => n != leader).ToList();
        var before = await TestCluster.SubmitAsync(leader, new { workflow = "echo", payload = "before" });

        var fault = await leader.FailDatabaseWritesAsync();
        string? during = null;
        try
        {
            // A write through a follower: committed by the log, but the leader cannot apply it.
            var write = SubmitUntilAcceptedAsync(followers[0], "during-the-fault");

            await _cluster.WaitForAsync(
                async () => (await leader.TryGetHealthAsync())?.State?.Contains("cannot apply committed entries", StringComparison.Ordinal) == true,
                $"{leaderId} to report that it cannot apply",
                Timeout);
            var health = (await leader.TryGetHealthAsync())!;
            Assert.False(health.IsHealthy);
            Assert.Contains("full", health.State, StringComparison.OrdinalIgnoreCase); // SQLite: "database or disk is full"
            using (var probe = await leader.Http.GetAsync("health"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, probe.StatusCode);
            }

            // It steps down (and again, if re-elected), so the others elect a leader that can apply.
            await _cluster.WaitForAsync(
                async () => (await Task.WhenAll(followers.Select(f => f.TryGetHealthAsync())))
                    .All(h => h is { HasLeader: true } && h.Leader != leaderId),
                $"a leader other than {leaderId}",
                Timeout);
            during = (await write).JobId;
        }
        finally
        {
            await fault.DisposeAsync();
        }

        // The disk works again: the retried apply succeeds and the node catches up by itself.
        await _cluster.WaitForAsync(
            async () => (await leader.TryGetHealthAsync()) is { IsHealthy: true, State: "member" },
            $"{leaderId} healthy again",
            Timeout);
        await TestCluster.SubmitAsync(followers[1], new { workflow = "echo", payload = "after" });
        await _cluster.WaitForIdenticalStoresAsync(Timeout);
        Assert.NotNull(await TestCluster.GetJobAsync(leader, before.JobId));
        Assert.NotNull(await TestCluster.GetJobAsync(leader, during));
        Assert.Contains("Applying recovered", leader.RecentOutput(), StringComparison.Ordinal);
    }

    // A careful client: the outcome of a write during the fault may be unknown (502); the key makes a re-send safe.
    private async Task<Flotilla.Client.Job> SubmitUntilAcceptedAsync(NodeProcess node, string key)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            try
            {
                return await TestCluster.SubmitAsync(node, new { workflow = "echo", payload = key, idempotency_key = key });
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }
}
