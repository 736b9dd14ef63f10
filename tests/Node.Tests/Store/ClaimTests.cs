using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

public sealed class ClaimTests : IDisposable
{
    private readonly TempStores _stores = new();

    public void Dispose() => _stores.Dispose();

    [Fact]
    public void ClaimsInPriorityThenRunAtThenIdOrder()
    {
        var store = _stores.Open();
        _stores.Submit(
            store,
            1_000,
            TempStores.NewJob("c", priority: 0, runAt: 100),
            TempStores.NewJob("b", priority: 0, runAt: 100),
            TempStores.NewJob("a", priority: 0, runAt: 200),
            TempStores.NewJob("z", priority: 5, runAt: 900),
            TempStores.NewJob("y", priority: -1, runAt: 0));

        var first = _stores.Claim(store, 1_000, "node1", max: 3);
        var rest = _stores.Claim(store, 1_000, "node1", max: 10);

        Assert.Equal(["z", "b", "c"], first.Select(j => j.JobId));
        Assert.Equal(["a", "y"], rest.Select(j => j.JobId));
    }

    [Fact]
    public void ClaimSetsRunningLeaseAndNextAttempt()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a"));

        var claimed = Assert.Single(_stores.Claim(store, 2_000, "node1", leaseMs: 30_000));

        Assert.Equal(JobStatus.Running, claimed.Status);
        Assert.Equal("node1", claimed.ClaimedBy);
        Assert.Equal(1, claimed.Attempts);
        Assert.Equal(32_000, claimed.LeaseUntil);
        Assert.Equal(2_000, claimed.UpdatedAt);
        Assert.Null(claimed.CompletedBy);
        Assert.Equal(claimed, store.GetJob("a"));
    }

    [Fact]
    public void CompetingClaimsNeverShareAJob()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, Enumerable.Range(0, 10).Select(i => TempStores.NewJob($"job-{i:D2}")).ToArray());

        // Two nodes' claims in one entry, then two more in consecutive entries.
        var sameBatch = _stores.Apply(store, 1_000, new ClaimJobs("node1", 3, 30_000), new ClaimJobs("node2", 3, 30_000));
        var node1 = Assert.IsType<JobsResult>(sameBatch[0]).Jobs;
        var node2 = Assert.IsType<JobsResult>(sameBatch[1]).Jobs;
        var node1Again = _stores.Claim(store, 1_000, "node1", max: 3);
        var node2Again = _stores.Claim(store, 1_000, "node2", max: 3);

        var all = node1.Concat(node2).Concat(node1Again).Concat(node2Again).Select(j => j.JobId).ToList();
        Assert.Equal(10, all.Count);
        Assert.Equal(10, all.Distinct().Count());
        Assert.Empty(node2Again.Skip(1));
        Assert.All(node1.Concat(node1Again), j => Assert.Equal("node1", store.GetJob(j.JobId)!.ClaimedBy));
        Assert.All(node2.Concat(node2Again), j => Assert.Equal("node2", store.GetJob(j.JobId)!.ClaimedBy));
    }

    [Fact]
    public void FutureRunAtIsNotClaimableUntilNowPassesIt()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("later", runAt: 5_000));

        Assert.Empty(_stores.Claim(store, 4_999, "node1"));
        Assert.Equal(5_000, store.NextDueAt());
        Assert.Equal("later", Assert.Single(_stores.Claim(store, 5_000, "node1")).JobId);
    }

    [Fact]
    public void ClaimsOnlyFromTheGivenQueues()
    {
        var store = _stores.Open();
        _stores.Submit(
            store,
            1_000,
            TempStores.NewJob("mail-1", queue: "mail"),
            TempStores.NewJob("report-1", queue: "reports"),
            TempStores.NewJob("other-1", queue: "other"));

        Assert.Empty(_stores.Claim(store, 1_000, "node1", queues: []));
        var won = _stores.Claim(store, 1_000, "node1", queues: ["reports", "mail"]);

        Assert.Equal(["mail-1", "report-1"], won.Select(j => j.JobId));
        Assert.Equal(JobStatus.Pending, store.GetJob("other-1")!.Status);
    }

    [Fact]
    public void RenewsOnlyLeasesStillHeldAtTheGivenAttempt()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a"), TempStores.NewJob("b"));
        _stores.Claim(store, 1_000, "node1", leaseMs: 10_000);

        var renewed = _stores.ApplyOne(
            store,
            5_000,
            new RenewLeases("node1", [new JobAttempt("a", 1), new JobAttempt("b", 2), new JobAttempt("missing", 1)], 10_000));
        var otherNode = _stores.ApplyOne(store, 5_000, new RenewLeases("node2", [new JobAttempt("b", 1)], 10_000));

        Assert.Equal(new CountResult(1), renewed);
        Assert.Equal(new CountResult(0), otherNode);
        Assert.Equal(15_000, store.GetJob("a")!.LeaseUntil);
        Assert.Equal(11_000, store.GetJob("b")!.LeaseUntil);
    }
}
