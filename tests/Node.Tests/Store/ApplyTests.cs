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
}
