using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

/// <summary>
/// Assignment inside apply: workers offer credit, and every entry hands due jobs to live
/// workers with free credit, in claim order, spread by credit. Batching must not change what a
/// client sees: priority then age, fairness across nodes, fencing per job.
/// </summary>
public sealed class AssignTests : IDisposable
{
    private readonly TempStores _stores = new();

    public void Dispose() => _stores.Dispose();

    [Fact]
    public void ASubmitIsAssignedInTheSameEntryInClaimOrderSpreadOverTheWorkers()
    {
        var store = _stores.Open(localNode: "node1");
        var assigned = new List<JobChanges>();
        store.Changed += assigned.Add;
        Offer(store, 1_000, "node1", 2);
        Offer(store, 1_000, "node2", 2);

        _stores.Submit(
            store,
            1_000,
            TempStores.NewJob("c", runAt: 100),
            TempStores.NewJob("b", runAt: 100),
            TempStores.NewJob("a", runAt: 200),
            TempStores.NewJob("z", priority: 5, runAt: 900),
            TempStores.NewJob("y", priority: -1, runAt: 0));

        // Shares by credit (2 each), taken in claim order, workers in name order; the event
        // carries this store's own node's jobs, as stored.
        var changes = Assert.Single(assigned);
        Assert.Equal(["z", "b"], changes.Assigned.Select(j => j.JobId));
        Assert.All(changes.Assigned, j => Assert.Equal(store.GetJob(j.JobId), j));
        Assert.Equal(["node1", "node1", "node2", "node2"], new[] { "z", "b", "c", "a" }.Select(id => store.GetJob(id)!.ClaimedBy));
        Assert.Equal(JobStatus.Pending, store.GetJob("y")!.Status);
        Assert.Equal(1, store.GetJob("z")!.Attempts);
        Assert.Equal(31_000, store.GetJob("z")!.LeaseUntil);
    }

    [Fact]
    public void AFinishedJobFreesCreditAndTheNextDueJobIsAssignedInTheSameEntry()
    {
        var store = _stores.Open(localNode: "node1");
        var assigned = new List<JobChanges>();
        Offer(store, 1_000, "node1", 1);
        _stores.Submit(store, 1_000, TempStores.NewJob("first", runAt: 1), TempStores.NewJob("second", runAt: 2));
        store.Changed += assigned.Add;

        var finished = _stores.ApplyOne(store, 2_000, new FinishJobs("node1", [new JobOutcome("first", 1, OutcomeKind.Completed, "{}", 1_500)]));

        Assert.Equal(new CountResult(1), finished);
        Assert.Equal("second", Assert.Single(Assert.Single(assigned).Assigned).JobId);
        var first = store.GetJob("first")!;
        Assert.Equal(JobStatus.Completed, first.Status);
        Assert.Equal("node1", first.CompletedBy);
        Assert.Equal(1_500, first.StartedAt);
        Assert.Equal(2_000, first.UpdatedAt);
    }

    [Fact]
    public void ABurstIsSharedByFreeCredit()
    {
        var store = _stores.Open();
        Offer(store, 1_000, "a", 10);
        Offer(store, 1_000, "b", 4);
        _stores.Submit(store, 1_000, Enumerable.Range(0, 6).Select(i => TempStores.NewJob($"j{i}", runAt: i)).ToArray());
        Offer(store, 1_000, "c", 10);

        _stores.Submit(store, 1_000, Enumerable.Range(6, 10).Select(i => TempStores.NewJob($"j{i}", runAt: i)).ToArray());

        // First burst of 6 (free a 10, b 4): each job to the most credit left, so all 6 to a.
        // Second burst of 10 (free a 4, b 4, c 10): c takes 6 until level, then a, b, c, a.
        Assert.Equal((8, 1, 7), (store.RunningOn("a").Count, store.RunningOn("b").Count, store.RunningOn("c").Count));
        Assert.Equal(0, store.CountUnfinished().Pending);
    }

    [Fact]
    public void TheEntrysLeaderTakesAJobFirstWhileItCanStartItAtOnce()
    {
        var store = _stores.Open();
        Offer(store, 1_000, "node1", 10, ready: 2);
        Offer(store, 1_000, "node2", 10, ready: 2);
        Offer(store, 1_000, "node3", 6, ready: 2); // less credit: by credit alone it would get nothing yet

        // One job an entry, as at a low rate: the leader's worker, which applies first, runs them...
        _stores.ApplyFrom(store, "node3", 1_000, new SubmitJobs([TempStores.NewJob("one")]));
        _stores.ApplyFrom(store, "node3", 1_000, new SubmitJobs([TempStores.NewJob("two")]));
        Assert.Equal(["node3", "node3"], new[] { "one", "two" }.Select(id => store.GetJob(id)!.ClaimedBy));

        // ...while it holds fewer than it can start at once; then the most credit left, ties by name.
        _stores.ApplyFrom(store, "node3", 1_000, new SubmitJobs([TempStores.NewJob("three")]));
        Assert.Equal("node1", store.GetJob("three")!.ClaimedBy);

        // A finished job frees a place: the leader first again.
        _stores.ApplyFrom(store, "node3", 2_000, new FinishJobs("node3", [new JobOutcome("one", 1, OutcomeKind.Completed, "{}")]));
        _stores.ApplyFrom(store, "node3", 2_000, new SubmitJobs([TempStores.NewJob("four")]));
        Assert.Equal("node3", store.GetJob("four")!.ClaimedBy);

        // An entry that names no leader (written before entries carried it): credit alone, as then.
        _stores.Submit(store, 2_000, TempStores.NewJob("five"));
        Assert.Equal("node2", store.GetJob("five")!.ClaimedBy);

        // A burst, the leader full (free 9, 9 and 4): by credit, level and then in name order.
        _stores.ApplyFrom(store, "node3", 2_000, new SubmitJobs(Enumerable.Range(0, 9).Select(i => TempStores.NewJob($"burst-{i}", runAt: i)).ToArray()));
        Assert.Equal((6, 5, 2), (store.RunningOn("node1").Count, store.RunningOn("node2").Count, store.RunningOn("node3").Count));

        // A worker that offered no ready count (an older node) is never put first: credit decides.
        Offer(store, 3_000, "node4", 1);
        _stores.ApplyFrom(store, "node4", 3_000, new SubmitJobs([TempStores.NewJob("six")]));
        Assert.Equal("node2", store.GetJob("six")!.ClaimedBy);
        Assert.Equal(new Rejected("offer_capacity: capacity and ready must not be negative, lease_ms and alive_ms must be positive"),
            _stores.ApplyOne(store, 3_000, new OfferCapacity("node5", 1, 30_000, 3_000, Ready: -1)));
    }

    [Fact]
    public void ASlowWorkerWhoseCreditIsUsedGetsNothingMore()
    {
        var store = _stores.Open();
        Offer(store, 1_000, "slow", 2);
        Offer(store, 1_000, "fast", 8);

        _stores.Submit(store, 1_000, Enumerable.Range(0, 20).Select(i => TempStores.NewJob($"job-{i:D2}")).ToArray());

        var held = store.RunningOn("slow").Count;
        Assert.Equal(2, held);
        Assert.Equal(8, store.RunningOn("fast").Count);
        Assert.Equal(10, store.CountUnfinished().Pending);
        Assert.Equal(0, store.FreeCredit(1_000));
    }

    [Fact]
    public void AWorkerWhoseOfferLapsedOrWasWithdrawnGetsNothing()
    {
        var store = _stores.Open();
        Offer(store, 1_000, "gone", 4, aliveMs: 3_000);
        Offer(store, 1_000, "leaving", 4);
        Offer(store, 1_000, "leaving", 0);

        _stores.Submit(store, 4_000, TempStores.NewJob("a"));

        Assert.Equal(JobStatus.Pending, store.GetJob("a")!.Status);
        Offer(store, 4_500, "gone", 4);
        Assert.Equal("gone", store.GetJob("a")!.ClaimedBy);
    }

    [Fact]
    public void ADelayedJobIsAssignedOnlyByAnEntryStampedAfterItsRunAt()
    {
        var store = _stores.Open();
        Offer(store, 1_000, "node1", 4, aliveMs: 60_000);
        _stores.Submit(store, 1_000, TempStores.NewJob("later", runAt: 5_000));

        _stores.ApplyOne(store, 4_999, new AssignDue());
        Assert.Equal(JobStatus.Pending, store.GetJob("later")!.Status);

        _stores.ApplyOne(store, 5_000, new AssignDue());
        Assert.Equal(JobStatus.Running, store.GetJob("later")!.Status);
    }

    [Fact]
    public void OutcomesAreFencedPerJobAndTheRestOfTheBatchStillApplies()
    {
        var store = _stores.Open();
        Offer(store, 1_000, "node1", 3);
        _stores.Submit(store, 1_000, TempStores.NewJob("ok", runAt: 1), TempStores.NewJob("stale", runAt: 2), TempStores.NewJob("cancelled", runAt: 3));
        _stores.ApplyOne(store, 1_500, new CancelJob("cancelled"));

        var result = _stores.ApplyOne(store, 2_000, new FinishJobs("node1",
        [
            new JobOutcome("ok", 1, OutcomeKind.Completed, "1"),
            new JobOutcome("stale", 7, OutcomeKind.Completed, "2"),
            new JobOutcome("cancelled", 1, OutcomeKind.Completed, "3"),
            new JobOutcome("unknown", 1, OutcomeKind.Failed, "boom"),
        ]));
        var otherNode = _stores.ApplyOne(store, 2_000, new FinishJobs("node2", [new JobOutcome("stale", 1, OutcomeKind.Completed, "4")]));

        Assert.Equal(new CountResult(1), result);
        Assert.Equal(new CountResult(0), otherNode);
        Assert.Equal(JobStatus.Completed, store.GetJob("ok")!.Status);
        Assert.Equal(JobStatus.Running, store.GetJob("stale")!.Status);
        Assert.Equal(JobStatus.Cancelled, store.GetJob("cancelled")!.Status);
        Assert.Null(store.GetJob("cancelled")!.Result);
    }

    [Fact]
    public void AFailedAttemptIsRetriedLaterAndAReleasedOneAtOnceWithoutCountingIt()
    {
        var store = _stores.Open();
        Offer(store, 1_000, "node1", 2);
        _stores.Submit(store, 1_000, TempStores.NewJob("fails", runAt: 1, maxAttempts: 2), TempStores.NewJob("released", runAt: 2));
        Offer(store, 1_000, "node1", 0); // so nothing is re-assigned at once

        _stores.ApplyOne(store, 2_000, new FinishJobs("node1",
        [
            new JobOutcome("fails", 1, OutcomeKind.Failed, "boom"),
            new JobOutcome("released", 1, OutcomeKind.Released, null),
        ]));

        var failed = store.GetJob("fails")!;
        Assert.Equal((JobStatus.Pending, 1, "boom"), (failed.Status, failed.Attempts, failed.Error));
        Assert.True(failed.RunAt > 2_000);
        var released = store.GetJob("released")!;
        Assert.Equal((JobStatus.Pending, 0), (released.Status, released.Attempts));
        Assert.True(released.RunAt <= 2_000);
    }

    [Fact]
    public void AnExpiredLeaseRevokesTheJobAndTheSilentNodeGetsNoMoreUntilItOffersAgain()
    {
        var store = _stores.Open(localNode: "dead");
        var changes = new List<JobChanges>();
        store.Changed += changes.Add;
        Offer(store, 1_000, "dead", 1, leaseMs: 2_000, aliveMs: 60_000);
        _stores.Submit(store, 1_000, TempStores.NewJob("a"));

        _stores.ApplyOne(store, 3_000, new RescueExpiredLeases());
        _stores.ApplyOne(store, 10_000, new AssignDue());

        Assert.Equal(new RevokedJob("a", "dead", 1), Assert.Single(changes[1].Revoked));
        Assert.Equal(JobStatus.Pending, store.GetJob("a")!.Status);
        Offer(store, 10_000, "alive", 1);
        Assert.Equal(("alive", 2), (store.GetJob("a")!.ClaimedBy, store.GetJob("a")!.Attempts));
    }

    [Fact]
    public void RetentionDeletesOnlyFinishedJobsOlderThanItAndTheEntryTimeDecides()
    {
        var store = _stores.Open();
        Offer(store, 1_000, "node1", 10);
        _stores.Submit(store, 1_000, TempStores.NewJob("old-done", runAt: 1), TempStores.NewJob("new-done", runAt: 2), TempStores.NewJob("old-running", runAt: 3));
        _stores.ApplyOne(store, 1_000, new FinishJobs("node1", [new JobOutcome("old-done", 1, OutcomeKind.Completed, "1")]));
        _stores.ApplyOne(store, 50_000, new FinishJobs("node1", [new JobOutcome("new-done", 1, OutcomeKind.Completed, "2")]));
        _stores.Submit(store, 1_000, TempStores.NewJob("old-pending", runAt: 4));

        var purged = _stores.ApplyOne(store, 60_000, new PurgeFinishedJobs(RetentionMs: 30_000, Max: 100));

        Assert.Equal(new CountResult(1), purged);
        Assert.Null(store.GetJob("old-done"));
        Assert.NotNull(store.GetJob("new-done"));
        Assert.NotNull(store.GetJob("old-running"));
        Assert.NotNull(store.GetJob("old-pending"));
    }

    [Fact]
    public void TwoStoresApplyingTheSameEntriesStayIdentical()
    {
        var a = _stores.Open("a");
        var b = _stores.Open("b");
        Command[][] entries =
        [
            [new OfferCapacity("node1", 3, 30_000, 3_000), new OfferCapacity("node2", 1, 30_000, 3_000)],
            [new SubmitJobs(Enumerable.Range(0, 6).Select(i => TempStores.NewJob($"j{i}")).ToArray())],
            [new FinishJobs("node1", [new JobOutcome("j0", 1, OutcomeKind.Completed, "1", 1_234), new JobOutcome("j2", 1, OutcomeKind.Failed, "x")])],
            [new CancelJob("j5"), new RescueExpiredLeases()],
        ];
        foreach (var entry in entries)
        {
            _stores.Apply(a, 2_000, entry);
            _stores.Apply(b, 2_000, entry);
        }

        Assert.Equal(a.Checksum(), b.Checksum());
    }

    private void Offer(JobStore store, long now, string node, int capacity, long leaseMs = 30_000, long aliveMs = 3_000, int? ready = null) =>
        Assert.Equal(new CountResult(1), _stores.ApplyOne(store, now, new OfferCapacity(node, capacity, leaseMs, aliveMs, ready)));
}
