namespace Flotilla.Cluster.Tests;

public sealed class FailoverTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    // Small snapshots so the killed node falls behind the compacted log and needs one; no
    // workers, so the stores settle and can be compared.
    private readonly TestCluster _cluster = TestCluster.Create(configure: n =>
    {
        n.Settings["Cluster:SnapshotEvery"] = "20";
        n.Settings["Worker:Enabled"] = "false";
    });

    public Task InitializeAsync() => _cluster.StartAsync();

    public Task DisposeAsync() => _cluster.DisposeAsync().AsTask();

    [Fact]
    public async Task LeaderKilledThenANewLeaderTakesWritesAndTheOldOneCatchesUpBySnapshot()
    {
        var oldLeaderId = await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
        var oldLeader = _cluster[oldLeaderId];
        var before = await TestCluster.SubmitAsync(oldLeader, new { workflow = "echo", payload = "before" });

        oldLeader.Kill();
        var survivors = _cluster.Nodes.Where(n => n != oldLeader).ToList();
        string? newLeader = null;
        await _cluster.WaitForAsync(
            async () =>
            {
                var healths = await Task.WhenAll(survivors.Select(n => n.TryGetHealthAsync()));
                newLeader = healths.All(h => h?.Leader is not null && h.Leader != oldLeaderId) && healths.Select(h => h!.Leader).Distinct().Count() == 1
                    ? healths[0]!.Leader
                    : null;
                return newLeader is not null;
            },
            "a new leader among the survivors",
            Timeout);
        Assert.NotEqual(oldLeaderId, newLeader);

        // Enough separate entries while it is down that the log it missed gets compacted away.
        var during = new List<string>();
        for (var i = 0; i < 60; i++)
        {
            during.Add((await TestCluster.SubmitAsync(survivors[i % 2], new { workflow = "echo", payload = i })).JobId);
        }

        oldLeader.Start();
        await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
        await _cluster.WaitForIdenticalStoresAsync(Timeout);

        Assert.NotNull(await TestCluster.GetJobAsync(oldLeader, before.JobId));
        foreach (var id in during)
        {
            Assert.NotNull(await TestCluster.GetJobAsync(oldLeader, id));
        }

        Assert.Contains("restored: replaced=True", oldLeader.RecentOutput());

        // A survivor wrote snapshots of its own (beside apply) and compacted its log. Killed, and
        // its database lost, it restores its newest snapshot, replays the log after it, and
        // ends identical to the others.
        var survivor = survivors[0];
        Assert.Contains("Snapshot written at applied index", survivor.RecentOutput());
        survivor.Kill();
        var after = await TestCluster.SubmitAsync(oldLeader, new { workflow = "echo", payload = "after" });
        foreach (var file in Directory.EnumerateFiles(survivor.DataDir, "flotilla.db*"))
        {
            File.Delete(file);
        }

        survivor.Start();
        await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
        await _cluster.WaitForIdenticalStoresAsync(Timeout);
        Assert.Contains("restored: replaced=True", survivor.RecentOutput());
        Assert.NotNull(await TestCluster.GetJobAsync(survivor, before.JobId));
        Assert.NotNull(await TestCluster.GetJobAsync(survivor, after.JobId));
    }
}
