using Flotilla.Node.Store;
using Microsoft.Data.Sqlite;

namespace Flotilla.Node.Tests.Store;

/// <summary>
/// Durable timers in the store: a parked job is pending until its wake-up, frees its node's
/// credit at once, keeps its attempt, and every later assignment gets a fencing token no
/// earlier run held.
/// </summary>
public sealed class ParkTests : IDisposable
{
    private readonly TempStores _stores = new();

    public void Dispose() => _stores.Dispose();

    [Fact]
    public void AParkedJobIsPendingUntilItsWakeUpAndItsSlotGoesToTheNextJobInTheSameEntry()
    {
        var store = _stores.Open(localNode: "node1");
        Offer(store, 1_000, "node1", 1);
        _stores.Submit(store, 1_000, TempStores.NewJob("sleeper", runAt: 1, maxAttempts: 1), TempStores.NewJob("other", runAt: 2));
        Assert.Equal("node1", store.GetJob("sleeper")!.ClaimedBy);
        Assert.Equal(JobStatus.Pending, store.GetJob("other")!.Status);

        var parked = _stores.ApplyOne(store, 2_000, new FinishJobs("node1", [new JobOutcome("sleeper", 1, OutcomeKind.Parked, null, 1_500, RunAt: 60_000)]));

        Assert.Equal(new CountResult(1), parked);
        var sleeper = store.GetJob("sleeper")!;
        Assert.Equal((JobStatus.Pending, 60_000L, 0, 1, (long?)null), (sleeper.Status, sleeper.RunAt, sleeper.Attempts, sleeper.Parks, sleeper.LeaseUntil));
        Assert.Null(sleeper.Error);
        // The one slot of node1 is free again: the other job went to it in the park's entry.
        Assert.Equal((JobStatus.Running, "node1"), (store.GetJob("other")!.Status, store.GetJob("other")!.ClaimedBy));

        _stores.ApplyOne(store, 3_000, new FinishJobs("node1", [new JobOutcome("other", 1, OutcomeKind.Completed, "{}")]));
        Assert.Equal(JobStatus.Pending, store.GetJob("sleeper")!.Status); // not before its wake-up
        Offer(store, 59_999, "node1", 1);
        Assert.Equal(JobStatus.Pending, store.GetJob("sleeper")!.Status);

        _stores.ApplyOne(store, 60_000, new AssignDue());

        var resumed = store.GetJob("sleeper")!;
        Assert.Equal((JobStatus.Running, 1, 1, 2), (resumed.Status, resumed.Attempts, resumed.Parks, resumed.Fence));
    }

    [Fact]
    public void AParkDoesNotUseUpAnAttemptAndAnOutcomeOfTheRunBeforeItIsFencedOut()
    {
        var store = _stores.Open();
        Offer(store, 1_000, "node1", 1);
        _stores.Submit(store, 1_000, TempStores.NewJob("once", runAt: 1, maxAttempts: 1));
        _stores.ApplyOne(store, 2_000, new FinishJobs("node1", [new JobOutcome("once", 1, OutcomeKind.Parked, null, RunAt: 5_000)]));
        Offer(store, 5_000, "node1", 1);
        Assert.Equal((JobStatus.Running, 1, 2), (store.GetJob("once")!.Status, store.GetJob("once")!.Attempts, store.GetJob("once")!.Fence));

        // The park's entry proposed again (its outcome was unknown to the proposer), and the run
        // before the park failing late: both carry token 1, the resumed run holds 2.
        var repeatedPark = _stores.ApplyOne(store, 5_100, new FinishJobs("node1", [new JobOutcome("once", 1, OutcomeKind.Parked, null, RunAt: 5_000)]));
        var staleFailure = _stores.ApplyOne(store, 5_100, new FinishJobs("node1", [new JobOutcome("once", 1, OutcomeKind.Failed, "late")]));
        var staleAppend = _stores.ApplyOne(store, 5_100, new AppendJournal("once", "node1", 1, [new JournalEntry(1, "now_ms", "h", "now_ms", null, JournalState.Done, 5_100)]));
        Assert.Equal(new CountResult(0), repeatedPark);
        Assert.Equal(new CountResult(0), staleFailure);
        Assert.IsType<Rejected>(staleAppend);

        // The resumed run's own calls are journaled under attempt 1: a park is not an attempt.
        Assert.Equal(new CountResult(1), _stores.ApplyOne(store, 5_200, new AppendJournal("once", "node1", 2, [new JournalEntry(1, "now_ms", "h", "now_ms", null, JournalState.Done, 5_200)])));
        Assert.Equal(1, Assert.Single(store.GetJournal("once")).Attempt);
        var completed = _stores.ApplyOne(store, 5_300, new FinishJobs("node1", [new JobOutcome("once", 2, OutcomeKind.Completed, "{}")]));

        Assert.Equal(new CountResult(1), completed);
        var done = store.GetJob("once")!;
        Assert.Equal((JobStatus.Completed, 1, 1), (done.Status, done.Attempts, done.Parks));
    }

    [Fact]
    public void AParkedJobCanBeCancelledAndIsNeverAssignedAgain()
    {
        var store = _stores.Open();
        Offer(store, 1_000, "node1", 1);
        _stores.Submit(store, 1_000, TempStores.NewJob("sleeper", runAt: 1));
        _stores.ApplyOne(store, 2_000, new FinishJobs("node1", [new JobOutcome("sleeper", 1, OutcomeKind.Parked, null, RunAt: 5_000)]));

        var cancelled = Assert.IsType<JobChange>(_stores.ApplyOne(store, 3_000, new CancelJob("sleeper")));
        Offer(store, 6_000, "node1", 1);

        Assert.True(cancelled.Applied);
        Assert.Equal(JobStatus.Cancelled, store.GetJob("sleeper")!.Status);
        Assert.Empty(store.RunningOn("node1"));
    }

    [Fact]
    public void AParkedOutcomeWithoutAWakeUpTimeIsRefusedBeforeItIsProposed()
    {
        Assert.Equal(
            "finish_jobs: a parked outcome needs run_at",
            CommandRules.Check(new FinishJobs("node1", [new JobOutcome("a", 1, OutcomeKind.Parked, null)])));
    }

    [Fact]
    public void ADatabaseOfAnOlderBuildGainsTheParkAndPinColumnsAndKeepsItsJobs()
    {
        var path = Path.Combine(_stores.Folder, "older.db");
        using (var store = new JobStore(path))
        {
            store.Apply(1, new CommandBatch(Guid.Empty, 1_000, [new SubmitJobs([TempStores.NewJob("old")])]));
        }

        // What an older build left: the jobs table without the newer columns.
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var drop = connection.CreateCommand();
            drop.CommandText = "ALTER TABLE jobs DROP COLUMN module_sha256; ALTER TABLE jobs DROP COLUMN parks;";
            drop.ExecuteNonQuery();
        }

        using var reopened = new JobStore(path);
        reopened.Apply(2, new CommandBatch(Guid.Empty, 2_000, [new OfferCapacity("node1", 1, 30_000, 3_000)]));
        reopened.Apply(3, new CommandBatch(Guid.Empty, 3_000, [new FinishJobs("node1", [new JobOutcome("old", 1, OutcomeKind.Parked, null, RunAt: 4_000)])]));

        var old = reopened.GetJob("old")!;
        Assert.Equal((JobStatus.Pending, 1, (string?)null), (old.Status, old.Parks, old.ModuleSha256));
    }

    private void Offer(JobStore store, long now, string node, int capacity) =>
        Assert.Equal(new CountResult(1), _stores.ApplyOne(store, now, new OfferCapacity(node, capacity, 30_000, 3_000)));
}
