using System.Security.Cryptography;
using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

public sealed class QueryTests : IDisposable
{
    private readonly TempStores _stores = new();

    public void Dispose() => _stores.Dispose();

    [Fact]
    public void ListsJobsByIdWithFiltersAndKeysetPaging()
    {
        var store = _stores.Open();
        _stores.Submit(store, 0, [.. Enumerable.Range(0, 7).Select(i => TempStores.NewJob($"j{i}", queue: i % 2 == 0 ? "even" : "odd", runAt: i))]);
        _stores.Claim(store, 1, "node1", max: 2); // j0, j1

        var page1 = store.ListJobs(new JobQuery(Limit: 3));
        var page2 = store.ListJobs(new JobQuery(Limit: 3, After: page1[^1].JobId));
        var pendingEven = store.ListJobs(new JobQuery(JobStatus.Pending, "even"));
        var running = store.ListJobs(new JobQuery(Status: JobStatus.Running));

        Assert.Equal(["j0", "j1", "j2"], page1.Select(j => j.JobId));
        Assert.Equal(["j3", "j4", "j5"], page2.Select(j => j.JobId));
        Assert.Equal(["j2", "j4", "j6"], pendingEven.Select(j => j.JobId));
        Assert.Equal(["j0", "j1"], running.Select(j => j.JobId));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(-5, 1)]
    [InlineData(5_000, 1_000)]
    public void ClampsThePageSize(int limit, int expected)
    {
        var store = _stores.Open();
        _stores.Submit(store, 0, [.. Enumerable.Range(0, 1_001).Select(i => TempStores.NewJob($"j{i:D4}"))]);

        Assert.Equal(expected, store.ListJobs(new JobQuery(Limit: limit)).Count);
    }

    [Fact]
    public void CountsEveryStatus()
    {
        var store = _stores.Open();
        _stores.Submit(store, 0, TempStores.NewJob("a"), TempStores.NewJob("b"), TempStores.NewJob("c"));
        _stores.Claim(store, 0, "node1", max: 1);
        _stores.ApplyOne(store, 0, new CancelJob("c"));

        var counts = store.CountByStatus();

        Assert.Equal(5, counts.Count);
        Assert.Equal(1, counts[JobStatus.Pending]);
        Assert.Equal(1, counts[JobStatus.Running]);
        Assert.Equal(1, counts[JobStatus.Cancelled]);
        Assert.Equal(0, counts[JobStatus.Failed]);
    }

    [Fact]
    public void NextDueAtIsTheEarliestRunAtOrLeaseEnd()
    {
        var store = _stores.Open();
        Assert.Null(store.NextDueAt());

        _stores.Submit(store, 0, TempStores.NewJob("now", runAt: 0), TempStores.NewJob("later", runAt: 9_000));
        _stores.Claim(store, 100, "node1", max: 1, leaseMs: 5_000);
        Assert.Equal(5_100, store.NextDueAt());

        _stores.ApplyOne(store, 200, new CompleteJob("now", "node1", 1, null));
        Assert.Equal(9_000, store.NextDueAt());
    }

    [Fact]
    public void RegistersWorkflowsOnceByContent()
    {
        var store = _stores.Open();
        byte[] v1 = [0, 0x61, 0x73, 0x6d, 1], v2 = [0, 0x61, 0x73, 0x6d, 2];
        var sha1 = Convert.ToHexStringLower(SHA256.HashData(v1));
        var sha2 = Convert.ToHexStringLower(SHA256.HashData(v2));

        var results = _stores.Apply(
            store,
            1_000,
            new RegisterWorkflow("echo", sha1.ToUpperInvariant(), v1),
            new RegisterWorkflow("echo-copy", sha1, v1),
            new RegisterWorkflow("bad", sha2, v1));
        _stores.ApplyOne(store, 2_000, new RegisterWorkflow("echo", sha1, v1));

        Assert.Equal(new CountResult(1), results[0]);
        Assert.Contains("does not match", Assert.IsType<Rejected>(results[2]).Reason);
        Assert.Equal([new WorkflowInfo("echo", sha1, 1_000), new WorkflowInfo("echo-copy", sha1, 1_000)], store.ListWorkflows());
        Assert.Equal(v1, store.GetWorkflowModule("echo")!.Module);
        Assert.Null(store.GetWorkflowModule("bad"));

        // Replacing both names with v2 leaves v1 unreferenced, and it is dropped.
        _stores.Apply(store, 3_000, new RegisterWorkflow("echo", sha2, v2), new RegisterWorkflow("echo-copy", sha2, v2));
        Assert.Equal(new WorkflowInfo("echo", sha2, 3_000), store.ListWorkflows()[0]);
        Assert.Equal(v2, store.GetModule(sha2));
        Assert.Null(store.GetModule(sha1));
    }

    [Fact]
    public void ReadsSeeCommittedStateOnly()
    {
        var store = _stores.Open();
        _stores.Submit(store, 0, TempStores.NewJob("a"));

        // A rejected command inside a batch never becomes visible, even in part.
        _stores.Apply(store, 0, new SubmitJobs([TempStores.NewJob("b"), TempStores.NewJob("a", payload: "\"other\"")]));

        Assert.Null(store.GetJob("b"));
        Assert.Equal(1, store.CountByStatus()[JobStatus.Pending]);
    }
}
