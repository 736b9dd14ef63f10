using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

public sealed class SubmitTests : IDisposable
{
    private readonly TempStores _stores = new();

    public void Dispose() => _stores.Dispose();

    [Fact]
    public void StoresNewJobsAsPendingWithPayloadAsIs()
    {
        var store = _stores.Open();
        const string payload = """{ "url" : "https://example.org", "n": [1, 2.50] }""";
        var job = new NewJob("a", "echo", payload, "mail", 7, 1_500, 4, "key-a", "00-abc-def-01", 2_000);

        var stored = Assert.Single(_stores.Submit(store, 1_000, job));

        Assert.Equal(
            new Job("a", JobStatus.Pending, "mail", "echo", payload, 7, 1_500, 0, 4, null, null, null, 1_000, 1_000, null, null, "key-a", "00-abc-def-01", 2_000),
            stored);
        Assert.Equal(stored, store.GetJob("a"));
    }

    [Fact]
    public void SameIdempotencyKeyGivesTheSameJobAndOneRow()
    {
        var store = _stores.Open();
        var first = _stores.Submit(store, 1_000, TempStores.NewJob("a", idempotencyKey: "k"));

        var again = _stores.Submit(store, 2_000, TempStores.NewJob("b", idempotencyKey: "k"));
        var within = _stores.Submit(store, 3_000, TempStores.NewJob("c", idempotencyKey: "k2"), TempStores.NewJob("d", idempotencyKey: "k2"));

        Assert.Equal(first, again);
        Assert.Equal(1_000, again[0].CreatedAt);
        Assert.Null(store.GetJob("b"));
        Assert.Equal(["c", "c"], within.Select(j => j.JobId));
        Assert.Null(store.GetJob("d"));
        Assert.Equal(2, store.ListJobs(new JobQuery()).Count);
    }

    [Fact]
    public void AKeyReusedWithAnotherBodyIsRejectedWholeWhenTheCommandAsksForTheSameBody()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a", idempotencyKey: "k"));
        var same = TempStores.NewJob("b", idempotencyKey: "k");
        var otherPayload = same with { JobId = "c", Payload = """{"n":2}""" };
        var otherPriority = same with { JobId = "d", Priority = 9 };

        var results = _stores.Apply(
            store,
            2_000,
            new SubmitJobs([same], SameBodyPerKey: true),
            new SubmitJobs([TempStores.NewJob("e"), otherPayload], SameBodyPerKey: true),
            new SubmitJobs([otherPriority], SameBodyPerKey: true),
            new SubmitJobs([otherPayload])); // an entry from before the flag: the stored job, as it always was

        Assert.Equal("a", Assert.Single(Assert.IsType<JobsResult>(results[0]).Jobs).JobId);
        Assert.Contains("idempotency_key 'k' belongs to job a", Assert.IsType<Rejected>(results[1]).Reason, StringComparison.Ordinal);
        Assert.Null(store.GetJob("e")); // all or nothing
        Assert.IsType<Rejected>(results[2]);
        Assert.Equal("a", Assert.Single(Assert.IsType<JobsResult>(results[3]).Jobs).JobId);
        Assert.Single(store.ListJobs(new JobQuery()));
    }

    [Fact]
    public void ResubmittingAnIdWithItsOwnKeyReturnsTheStoredJob()
    {
        var store = _stores.Open();
        var first = _stores.Submit(store, 1_000, TempStores.NewJob("a", idempotencyKey: "k"));

        Assert.Equal(first, _stores.Submit(store, 2_000, TempStores.NewJob("a", idempotencyKey: "k")));
    }

    [Theory]
    [InlineData("", 3, """{}""", "default")]
    [InlineData("   ", 3, """{}""", "default")]
    [InlineData("x", 0, """{}""", "default")]
    [InlineData("x", 3, null, "default")]
    [InlineData("x", 3, """{}""", "")]
    public void RejectsInvalidJobsWithoutWritingAnyOfTheCommand(string badId, int maxAttempts, string? payload, string queue)
    {
        var store = _stores.Open();
        var bad = new NewJob(badId, "echo", payload!, queue, 0, 0, maxAttempts, null, null, null);

        var results = _stores.Apply(
            store,
            1_000,
            new SubmitJobs([TempStores.NewJob("good-1"), bad]),
            new SubmitJobs([TempStores.NewJob("good-2")]));

        Assert.IsType<Rejected>(results[0]);
        Assert.Null(store.GetJob("good-1"));
        Assert.Equal("good-2", Assert.Single(Assert.IsType<JobsResult>(results[1]).Jobs).JobId);
        Assert.Equal(1, store.AppliedIndex);
    }

    // The payload's JSON is checked once, where a command arrives (CommandRules.Check, before it
    // is proposed), not parsed again by every node in apply.
    [Theory]
    [InlineData("", 3, """{}""", "default")]
    [InlineData("x", 0, """{}""", "default")]
    [InlineData("x", 3, "not json", "default")]
    [InlineData("x", 3, """{"a":""", "default")]
    [InlineData("x", 3, """{}""", "")]
    public void ArrivalCheckRefusesInvalidJobs(string id, int maxAttempts, string payload, string queue)
    {
        var bad = new NewJob(id, "echo", payload, queue, 0, 0, maxAttempts, null, null, null);

        Assert.StartsWith("submit_jobs: job 1: ", CommandRules.Check(new SubmitJobs([TempStores.NewJob("good"), bad])));
        Assert.Null(CommandRules.Check(new SubmitJobs([TempStores.NewJob("good")])));
    }

    // A follower whose clock runs ahead must not delay a job: "now" and delay_ms are counted
    // from the leader-stamped time of the entry, never from the proposer's clock.
    [Fact]
    public void ADelayIsCountedFromTheEntrysTimeNotTheProposers()
    {
        var store = _stores.Open();

        var stored = _stores.Submit(
            store,
            10_000,
            TempStores.NewJob("now", runAt: 99_999) with { DelayMs = 0 },
            TempStores.NewJob("later", runAt: 99_999) with { DelayMs = 500 },
            TempStores.NewJob("at", runAt: 20_000));

        Assert.Equal([10_000L, 10_500L, 20_000L], stored.Select(j => j.RunAt));
        Assert.Equal(10_500, store.GetJob("later")!.RunAt);
    }

    [Fact]
    public void ReplayingTheSameJobReturnsTheStoredOne()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a", payload: "1"));
        var checksum = store.Checksum();

        var replay = _stores.ApplyOne(store, 2_000, new SubmitJobs([TempStores.NewJob("a", payload: "1")]));

        var job = Assert.Single(Assert.IsType<JobsResult>(replay).Jobs);
        Assert.Equal(1_000, job.CreatedAt);
        Assert.Equal(1, store.CountByStatus()[JobStatus.Pending]);
        Assert.NotEqual(checksum, store.Checksum()); // only the applied index moved
    }

    [Fact]
    public void RejectsAnExistingIdWithOtherContent()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a", payload: "1"));

        var dup = _stores.ApplyOne(store, 2_000, new SubmitJobs([TempStores.NewJob("b"), TempStores.NewJob("a", payload: "2")]));
        var dupInCommand = _stores.ApplyOne(store, 2_000, new SubmitJobs([TempStores.NewJob("c", payload: "1"), TempStores.NewJob("c", payload: "2")]));

        Assert.Contains("already exists", Assert.IsType<Rejected>(dup).Reason);
        Assert.IsType<Rejected>(dupInCommand);
        Assert.Equal("1", store.GetJob("a")!.Payload);
        Assert.Null(store.GetJob("b"));
        Assert.Null(store.GetJob("c"));
    }

    [Fact]
    public void RejectsMalformedCommandsOfEveryKindWithoutWriting()
    {
        var store = _stores.Open();
        var untouched = _stores.Open("untouched");
        _stores.Submit(store, 0, TempStores.NewJob("a"));
        _stores.Submit(untouched, 0, TempStores.NewJob("a"));

        var results = _stores.Apply(
            store,
            1_000,
            new SubmitJobs([]),
            new ClaimJobs("", 1, 1_000),
            new ClaimJobs("node1", 1, 0),
            new RenewLeases("node1", [], -1),
            new CompleteJob("", "node1", 1, null),
            new FailJob("a", "node1", 1, null!),
            new CancelJob(""),
            new RegisterWorkflow("echo", new string('0', 64), [1, 2, 3]),
            new RegisterWorkflow(" ", "", []),
            null!);

        Assert.All(results, r => Assert.IsType<Rejected>(r));
        Assert.Equal(10, results.Count);
        Assert.Equal(JobStatus.Pending, store.GetJob("a")!.Status);
        Assert.Empty(store.ListWorkflows());
        Assert.Equal(2, store.AppliedIndex);

        // Byte for byte what a store that only moved its applied index holds.
        untouched.MarkApplied(2);
        Assert.Equal(untouched.Checksum(), store.Checksum());
    }
}
