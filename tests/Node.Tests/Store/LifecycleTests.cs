using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

public sealed class LifecycleTests : IDisposable
{
    private readonly TempStores _stores = new();

    public void Dispose() => _stores.Dispose();

    [Fact]
    public void CompletesTheCurrentClaim()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a"));
        _stores.Claim(store, 1_000, "node1");

        var change = Assert.IsType<JobChange>(_stores.ApplyOne(store, 2_000, new CompleteJob("a", "node1", 1, "\"done\"")));

        Assert.True(change.Applied);
        Assert.Equal(JobStatus.Completed, change.Job!.Status);
        Assert.Equal("node1", change.Job.CompletedBy);
        Assert.Equal("\"done\"", change.Job.Result);
        Assert.Null(change.Job.LeaseUntil);
        Assert.Equal(2_000, change.Job.UpdatedAt);
        Assert.Equal(change.Job, store.GetJob("a"));
    }

    [Fact]
    public void IgnoresCompletionOfAStaleAttempt()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a"));
        _stores.Claim(store, 1_000, "node1", leaseMs: 1_000);
        _stores.ApplyOne(store, 2_000, new RescueExpiredLeases());
        _stores.Claim(store, 10_000, "node2", leaseMs: 30_000);

        // node1 wakes up after its lease ran out and reports attempt 1; node2 holds attempt 2.
        var stale = Assert.IsType<JobChange>(_stores.ApplyOne(store, 11_000, new CompleteJob("a", "node1", 1, "late")));
        var staleFail = Assert.IsType<JobChange>(_stores.ApplyOne(store, 11_000, new FailJob("a", "node1", 1, "late")));
        var wrongNode = Assert.IsType<JobChange>(_stores.ApplyOne(store, 11_000, new CompleteJob("a", "node1", 2, "late")));

        Assert.False(stale.Applied);
        Assert.False(staleFail.Applied);
        Assert.False(wrongNode.Applied);
        var job = store.GetJob("a")!;
        Assert.Equal(JobStatus.Running, job.Status);
        Assert.Equal("node2", job.ClaimedBy);
        Assert.Equal(2, job.Attempts);
        Assert.Null(job.Result);
        Assert.Equal(job, stale.Job);
    }

    [Fact]
    public void IgnoresAStaleAttemptOfTheSameNode()
    {
        var store = _stores.Open();
        _stores.Submit(store, 0, TempStores.NewJob("a"));
        _stores.Claim(store, 0, "node1", leaseMs: 1_000);
        _stores.ApplyOne(store, 1_000, new RescueExpiredLeases());
        var retryAt = store.GetJob("a")!.RunAt;
        _stores.Claim(store, retryAt, "node1", leaseMs: 30_000);

        var stale = Assert.IsType<JobChange>(_stores.ApplyOne(store, retryAt, new CompleteJob("a", "node1", 1, "attempt 1")));
        var staleFail = Assert.IsType<JobChange>(_stores.ApplyOne(store, retryAt, new FailJob("a", "node1", 1, "attempt 1")));
        var staleRenew = _stores.ApplyOne(store, retryAt + 1, new RenewLeases("node1", [new JobAttempt("a", 1)], 90_000));

        Assert.False(stale.Applied);
        Assert.False(staleFail.Applied);
        Assert.Equal(new CountResult(0), staleRenew);
        var job = store.GetJob("a")!;
        Assert.Equal((JobStatus.Running, 2, retryAt + 30_000), (job.Status, job.Attempts, job.LeaseUntil));
        Assert.True(Assert.IsType<JobChange>(_stores.ApplyOne(store, retryAt, new CompleteJob("a", "node1", 2, "attempt 2"))).Applied);
    }

    [Fact]
    public void RescuesExpiredLeaseAndALaterAttemptCompletes()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a"), TempStores.NewJob("b"));
        _stores.Claim(store, 1_000, "node1", max: 1, leaseMs: 5_000);
        _stores.Claim(store, 3_000, "node2", max: 1, leaseMs: 5_000);

        Assert.Equal(new CountResult(0), _stores.ApplyOne(store, 5_999, new RescueExpiredLeases()));
        Assert.Equal(new CountResult(1), _stores.ApplyOne(store, 6_000, new RescueExpiredLeases()));

        var rescued = store.GetJob("a")!;
        Assert.Equal(JobStatus.Pending, rescued.Status);
        Assert.Equal("lease expired on node1 (attempt 1)", rescued.Error);
        Assert.Null(rescued.LeaseUntil);
        Assert.Equal(6_000 + RetryPolicy.BackoffMs("a", 1), rescued.RunAt);
        Assert.Equal(JobStatus.Running, store.GetJob("b")!.Status);

        Assert.DoesNotContain(_stores.Claim(store, rescued.RunAt - 1, "node3"), j => j.JobId == "a");
        var retry = Assert.Single(_stores.Claim(store, rescued.RunAt, "node3"));
        Assert.Equal(("a", 2), (retry.JobId, retry.Attempts));
        var done = Assert.IsType<JobChange>(_stores.ApplyOne(store, rescued.RunAt + 1, new CompleteJob("a", "node3", 2, "ok")));
        Assert.True(done.Applied);
        Assert.Equal("node3", store.GetJob("a")!.CompletedBy);
    }

    [Fact]
    public void FailedAttemptIsRetriedWithBackoff()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a", maxAttempts: 3));
        _stores.Claim(store, 1_000, "node1");

        var change = Assert.IsType<JobChange>(_stores.ApplyOne(store, 2_000, new FailJob("a", "node1", 1, "boom")));

        Assert.True(change.Applied);
        Assert.Equal(JobStatus.Pending, change.Job!.Status);
        Assert.Equal("boom", change.Job.Error);
        Assert.Equal(2_000 + RetryPolicy.BackoffMs("a", 1), change.Job.RunAt);
        Assert.InRange(change.Job.RunAt, 3_000, 3_249);
        Assert.Null(change.Job.LeaseUntil);
    }

    [Fact]
    public void FailsForGoodAfterMaxAttemptsKeepingTheLastError()
    {
        var store = _stores.Open();
        _stores.Submit(store, 0, TempStores.NewJob("a", maxAttempts: 2), TempStores.NewJob("b", maxAttempts: 1));
        _stores.Claim(store, 0, "node1");
        _stores.ApplyOne(store, 0, new FailJob("a", "node1", 1, "first"));
        _stores.ApplyOne(store, 0, new RescueExpiredLeases());
        var now = store.GetJob("a")!.RunAt;
        _stores.Claim(store, now, "node2", leaseMs: 1_000);

        var last = Assert.IsType<JobChange>(_stores.ApplyOne(store, now, new FailJob("a", "node2", 2, "second")));
        var rescued = _stores.ApplyOne(store, 31_000, new RescueExpiredLeases());

        Assert.Equal(JobStatus.Failed, last.Job!.Status);
        Assert.Equal("second", last.Job.Error);
        Assert.Equal(2, last.Job.Attempts);
        Assert.Null(last.Job.LeaseUntil);
        Assert.Empty(_stores.Claim(store, long.MaxValue / 2, "node3"));

        // b's only attempt ran out its lease: failed, not retried.
        Assert.Equal(new CountResult(1), rescued);
        var b = store.GetJob("b")!;
        Assert.Equal(JobStatus.Failed, b.Status);
        Assert.Equal("lease expired on node1 (attempt 1)", b.Error);
    }

    [Fact]
    public void CancelsPendingAndRunningButNotFinishedJobs()
    {
        var store = _stores.Open();
        _stores.Submit(store, 0, TempStores.NewJob("pending", runAt: 100), TempStores.NewJob("running"), TempStores.NewJob("done"));
        _stores.Claim(store, 0, "node1");
        _stores.ApplyOne(store, 1, new CompleteJob("done", "node1", 1, null));

        var results = _stores.Apply(store, 2, new CancelJob("pending"), new CancelJob("running"), new CancelJob("done"), new CancelJob("nope"));

        var pending = Assert.IsType<JobChange>(results[0]);
        Assert.True(pending.Applied);
        Assert.Equal(JobStatus.Cancelled, pending.Job!.Status);
        var running = Assert.IsType<JobChange>(results[1]);
        Assert.True(running.Applied);
        Assert.Equal(JobStatus.Cancelled, running.Job!.Status);
        Assert.Null(running.Job.LeaseUntil);
        var done = Assert.IsType<JobChange>(results[2]);
        Assert.False(done.Applied);
        Assert.Equal(JobStatus.Completed, done.Job!.Status);
        Assert.Equal(new JobChange(false, null), results[3]);

        // The worker that was running it can no longer complete it.
        Assert.False(Assert.IsType<JobChange>(_stores.ApplyOne(store, 3, new CompleteJob("running", "node1", 1, "x"))).Applied);
        Assert.Equal(JobStatus.Cancelled, store.GetJob("running")!.Status);
    }
}
