using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

public sealed class ApplyTests : IDisposable
{
    private readonly TempStores _stores = new();

    public void Dispose() => _stores.Dispose();

    [Fact]
    public void SkipsEntriesAtOrBelowTheAppliedIndex()
    {
        var store = _stores.Open();
        var submit = new CommandBatch(Guid.Empty, 1_000, [new SubmitJobs([TempStores.NewJob("a")])]);
        Assert.NotNull(store.Apply(5, submit));
        var checksum = store.Checksum();

        var again = store.Apply(5, new CommandBatch(Guid.Empty, 1_000, [new ClaimJobs("node1", 1, 1_000)]));
        var older = store.Apply(4, new CommandBatch(Guid.Empty, 1_000, [new CancelJob("a")]));

        Assert.Null(again);
        Assert.Null(older);
        Assert.Equal(5, store.AppliedIndex);
        Assert.Equal(JobStatus.Pending, store.GetJob("a")!.Status);
        Assert.Equal(checksum, store.Checksum());
    }

    [Fact]
    public void MarkAppliedOnlyMovesForward()
    {
        var store = _stores.Open();

        store.MarkApplied(3);
        store.MarkApplied(2);

        Assert.Equal(3, store.AppliedIndex);
        Assert.Null(store.Apply(3, new CommandBatch(Guid.Empty, 0, [new SubmitJobs([TempStores.NewJob("a")])])));
        Assert.Null(store.GetJob("a"));
    }

    [Fact]
    public void KeepsStateAndAppliedIndexAcrossReopen()
    {
        var path = Path.Combine(_stores.Folder, "reopen.db");
        string checksum;
        using (var store = new JobStore(path))
        {
            store.Apply(1, new CommandBatch(Guid.Empty, 1_000, [new SubmitJobs([TempStores.NewJob("a")])]));
            store.Apply(2, new CommandBatch(Guid.Empty, 1_000, [new ClaimJobs("node1", 1, 1_000)]));
            checksum = store.Checksum();
        }

        using var reopened = new JobStore(path);

        Assert.Equal(2, reopened.AppliedIndex);
        Assert.Equal(JobStatus.Running, reopened.GetJob("a")!.Status);
        Assert.Equal(checksum, reopened.Checksum());
    }

    [Fact]
    public void ReturnsOneResultPerCommandInOrder()
    {
        var store = _stores.Open();

        var results = _stores.Apply(
            store,
            1_000,
            new SubmitJobs([TempStores.NewJob("a")]),
            new ClaimJobs("node1", 5, 1_000),
            new CompleteJob("a", "node1", 1, "r"),
            new RescueExpiredLeases());

        Assert.Collection(
            results,
            r => Assert.IsType<JobsResult>(r),
            r => Assert.Equal("a", Assert.Single(Assert.IsType<JobsResult>(r).Jobs).JobId),
            r => Assert.True(Assert.IsType<JobChange>(r).Applied),
            r => Assert.Equal(new CountResult(0), r));
    }

    // Apply runs an entry without a savepoint per command first, and again with them when a
    // command is rejected after it wrote (here: "b" again with another body, after inserting
    // "d"). The end must be the entry without that command: the finish applied once, "d" gone,
    // the command after it applied, and the one freed slot handing out exactly one job.
    [Fact]
    public void AnEntryWithACommandRejectedAfterWritingAppliesAsIfThatCommandWasNeverThere()
    {
        var store = _stores.Open(localNode: "node1");
        _stores.ApplyOne(store, 1_000, new OfferCapacity("node1", 1, 30_000, 60_000));
        _stores.Submit(store, 1_000, TempStores.NewJob("a", runAt: 1), TempStores.NewJob("b", runAt: 2), TempStores.NewJob("c", runAt: 3));
        Assert.Equal("node1", store.GetJob("a")!.ClaimedBy);
        var assigned = new List<JobChanges>();
        store.Changed += assigned.Add;

        var results = _stores.Apply(
            store,
            2_000,
            new FinishJobs("node1", [new JobOutcome("a", 1, OutcomeKind.Completed, "{}")]),
            new SubmitJobs([TempStores.NewJob("d", runAt: 4), TempStores.NewJob("b", payload: """{"other":true}""")]),
            new SubmitJobs([TempStores.NewJob("e", runAt: 5)]));

        Assert.Equal(new CountResult(1), results[0]);
        Assert.Contains("already exists", Assert.IsType<Rejected>(results[1]).Reason);
        Assert.Equal("e", Assert.Single(Assert.IsType<JobsResult>(results[2]).Jobs).JobId);
        Assert.Null(store.GetJob("d"));
        Assert.Equal(JobStatus.Completed, store.GetJob("a")!.Status);
        Assert.Equal("b", Assert.Single(Assert.Single(assigned).Assigned).JobId);
        Assert.Equal(JobStatus.Pending, store.GetJob("c")!.Status);
        Assert.Equal((2, 1), store.CountUnfinished());
    }
}
