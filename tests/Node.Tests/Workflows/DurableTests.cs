using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using Flotilla.Node.Store;
using Flotilla.Node.Tests.Store;
using Flotilla.Node.Worker;
using Flotilla.Node.Workflows;
using Flotilla.Node.Workflows.Durable;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Tests.Workflows;

/// <summary>
/// Durable workflows end to end below the worker: the SDKs' samples (C, Rust, AssemblyScript) on
/// real Wasmtime, their journal committed to and read back from a real SQLite store the way the
/// worker does it.
/// </summary>
public sealed class DurableTests : IDisposable
{
    private const string Node = "node-a";

    // Sleeps 300 ms through flotilla.sleep_ms, then fails (exit 1) so the job is retried.
    private const string SleepThenFailWat = """
        (module
          (import "flotilla" "sleep_ms" (func $sleep (param i64) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          (func (export "_start")
            (drop (call $sleep (i64.const 300)))
            (call $exit (i32.const 1))))
        """;

    private static readonly byte[] _lucky = SdkSamples.Lucky("c");

    private readonly TempRunner _runners = new();
    private readonly TempStores _stores = new();
    private readonly WasmRunner _runner;
    private readonly JobStore _store;

    public DurableTests()
    {
        _runner = _runners.Open(hostModules: new DurableHostModule(TimeProvider.System, Options.Create(new DurableOptions { ParkThresholdMs = 1_000 })));
        _store = _stores.Open();
    }

    public void Dispose()
    {
        _runners.Dispose();
        _stores.Dispose();
    }

    [Theory]
    [MemberData(nameof(SdkSamples.Languages), MemberType = typeof(SdkSamples))]
    public async Task ARetryReplaysTheRandomBytesAndTimeOfTheFailedAttempt(string language)
    {
        var lucky = SdkSamples.Lucky(language);
        var job = Submit("lucky-1", """{"fail_first": true}""");

        var first = await RunAsync(lucky, job);
        Assert.False(first.Outcome.Succeeded);
        Assert.Equal(["random_bytes", "now_ms", "clock_time_get", "sleep_ms"], first.Journal.Appended.Select(c => c.Kind));
        Finish(job, first);
        await Task.Delay(20); // so a live clock on the retry would read later than the journaled one

        var retry = Claim(job);
        var second = await RunAsync(lucky, retry);

        Assert.True(second.Outcome.Succeeded, second.Outcome.Error);
        var result = JsonDocument.Parse(second.Outcome.Result!).RootElement;
        var journal = _store.GetJournal(job.JobId);
        Assert.Equal(Convert.ToHexStringLower(journal[0].Response!), result.GetProperty("lucky").GetString());
        Assert.Equal(BinaryPrimitives.ReadInt64LittleEndian(journal[1].Response), result.GetProperty("now_ms").GetInt64());
        Assert.Equal(2, result.GetProperty("attempt").GetInt32());
        // The failed attempt said what it drew on stderr, outside the journal: the same number.
        Assert.Contains($"failing attempt 1 after drawing {result.GetProperty("lucky").GetString()}", first.Outcome.Error, StringComparison.Ordinal);
        Assert.Equal(4, second.Journal.Replayed);
        Assert.Empty(second.Journal.Appended);
    }

    [Theory]
    [MemberData(nameof(SdkSamples.Languages), MemberType = typeof(SdkSamples))]
    public async Task AGuestThatAsksForSomethingElseOnReplayFailsForGood(string language)
    {
        var lucky = SdkSamples.Lucky(language);
        var job = Submit("diverge-1", """{"diverge": true}""", maxAttempts: 5);
        var first = await RunAsync(lucky, job);
        Assert.Equal("exit code 1: diverge: failing the first attempt", first.Outcome.Error);
        Finish(job, first);

        var retry = Claim(job);
        var second = await RunAsync(lucky, retry);
        Finish(retry, second);

        Assert.Equal("nondeterminism at seq 1: journal has now_ms, guest asked random_bytes 1", second.Outcome.Error);
        var stored = _store.GetJob(job.JobId)!;
        Assert.Equal(JobStatus.Failed, stored.Status);
        Assert.Equal(2, stored.Attempts);
        Assert.Equal(second.Outcome.Error, stored.Error);
    }

    [Fact]
    public async Task AReplayedSleepWhoseWakeUpHasPassedReturnsAtOnce()
    {
        var module = TempRunner.Wat(SleepThenFailWat);
        var job = Submit("sleep-1", "{}");
        var watch = Stopwatch.StartNew();
        var first = await RunAsync(module, job);
        var firstTook = watch.Elapsed;
        Finish(job, first);

        var retry = Claim(job);
        watch.Restart();
        var second = await RunAsync(module, retry);
        var secondTook = watch.Elapsed;

        Assert.Equal("exit code 1", second.Outcome.Error);
        Assert.Equal(1, second.Journal.Replayed);
        Assert.True(firstTook >= TimeSpan.FromMilliseconds(290), $"the live sleep took {firstTook}");
        Assert.True(secondTook < TimeSpan.FromMilliseconds(200), $"the replayed sleep took {secondTook}");
    }

    [Fact]
    public async Task AModuleWithoutFlotillaImportsNeverReadsTheJournal()
    {
        var module = TempRunner.Wat("""
            (module
              (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 1)
              (data (i32.const 16) "{}")
              (func (export "_start")
                (drop (call $random (i32.const 32) (i32.const 4)))
                (i32.store (i32.const 0) (i32.const 16))
                (i32.store (i32.const 4) (i32.const 2))
                (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
            """);
        var journal = new RunJournal(() => throw new InvalidOperationException("a plain module read the journal"));

        var outcome = await _runner.RunAsync(TempRunner.NewRun(module) with { Journal = journal }, () => module, CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.False(journal.Opened);
    }

    [Theory]
    [MemberData(nameof(SdkSamples.Languages), MemberType = typeof(SdkSamples))]
    public async Task ALongSleepCommitsTheCallsBeforeIt(string language)
    {
        var lucky = SdkSamples.Lucky(language);
        var job = Submit("sleeper-1", """{"sleep_ms": 1200}""");
        int[]? journalDuringSleep = null;
        var journal = new RunJournal(() => JobWorker.ToHostCalls(_store.GetJournal(job.JobId)))
        {
            Committer = calls =>
            {
                var result = _stores.ApplyOne(_store, 1_500, new AppendJournal(job.JobId, Node, job.Attempts, [.. calls.Select(ToEntry)]));
                journalDuringSleep = [.. _store.GetJournal(job.JobId).Select(e => e.Seq)];
                return result is Rejected rejected ? Task.FromException(new InvalidOperationException(rejected.Reason)) : Task.CompletedTask;
            },
        };

        var (outcome, _) = await RunAsync(lucky, job, journal);

        Assert.True(outcome.Succeeded, outcome.Error);
        // random_bytes, now_ms, clock_time_get and the sleep's wake-up time, committed before it slept
        // (a replay after a rescue then sleeps only what is left); nothing is left for the outcome.
        Assert.Equal([1, 2, 3, 4], journalDuringSleep ?? []);
        Assert.Null(JobWorker.ToAppend(job, Node, journal));
    }

    [Fact]
    public async Task AGuestWhoseClaimWasTakenStopsAtItsNextCommit()
    {
        var job = Submit("sleeper-2", """{"sleep_ms": 5000}""");
        _stores.ApplyOne(_store, 1_000, new CancelJob(job.JobId));
        var journal = new RunJournal(() => [])
        {
            Committer = calls => _stores.ApplyOne(_store, 1_500, new AppendJournal(job.JobId, Node, job.Attempts, [.. calls.Select(ToEntry)])) is Rejected rejected
                ? Task.FromException(new InvalidOperationException(rejected.Reason))
                : Task.CompletedTask,
        };
        var watch = Stopwatch.StartNew();

        var (outcome, _) = await RunAsync(_lucky, job, journal);

        Assert.False(outcome.Succeeded);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"the guest slept on for {watch.Elapsed}");
        Assert.Empty(_store.GetJournal(job.JobId));
    }

    [Theory]
    [MemberData(nameof(SdkSamples.Languages), MemberType = typeof(SdkSamples))]
    public async Task LiveCallsAndLogsAreSpanEventsAndAReplayRepeatsNeitherCall(string language)
    {
        var lucky = SdkSamples.Lucky(language);
        var job = Submit("traced-1", """{"fail_first": true}""");
        using var first = new Activity("first").Start();
        var attempt1 = await RunAsync(lucky, job);
        first.Stop();
        Finish(job, attempt1);
        var retry = Claim(job);
        using var second = new Activity("second").Start();
        await RunAsync(lucky, retry);
        second.Stop();

        Assert.Equal(
            ["flotilla.host_call", "flotilla.host_call", "flotilla.host_call", "flotilla.host_call", "flotilla.log"],
            first.Events.Select(e => e.Name));
        Assert.Equal("random_bytes 8", first.Events.First().Tags.Single(t => t.Key == "flotilla.journal.request").Value);
        var log = (string)first.Events.Last().Tags.Single(t => t.Key == "message").Value!;
        Assert.StartsWith("drew ", log, StringComparison.Ordinal);
        // The retry replays all four calls (no events), then logs live again: it is past the journal.
        Assert.Equal([log], second.Events.Select(e => (string)e.Tags.Single(t => t.Key == "message").Value!));
    }

    [Fact]
    public async Task ASleepPastTheParkThresholdParksTheJobAndTheRunAfterTheWakeUpGoesOn()
    {
        var job = Submit("parker-1", """{"sleep_ms": 1500}""", maxAttempts: 1);
        var journal = new RunJournal(() => JobWorker.ToHostCalls(_store.GetJournal(job.JobId))) { CanPark = true };
        var watch = Stopwatch.StartNew();

        var (parkedRun, _) = await RunAsync(_lucky, job, journal);

        // Stopped at the sleep, not slept: the wake-up time is the sleep's journaled answer.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"the parked guest took {watch.Elapsed}");
        Assert.False(parkedRun.Succeeded);
        var wakeAt = Assert.IsType<long>(journal.ParkedUntil);
        Assert.Equal(["random_bytes", "now_ms", "clock_time_get", "sleep_ms"], journal.Pending.Select(c => c.Kind));
        Assert.Equal(wakeAt, BinaryPrimitives.ReadInt64LittleEndian(journal.Pending[^1].Response));
        var append = JobWorker.ToAppend(job, Node, journal)!;
        _stores.Apply(_store, 2_000, append, new FinishJobs(Node, [new JobOutcome(job.JobId, job.Fence, OutcomeKind.Parked, null, RunAt: wakeAt)]));
        var parked = _store.GetJob(job.JobId)!;
        Assert.Equal((JobStatus.Pending, wakeAt, 0), (parked.Status, parked.RunAt, parked.Attempts));

        var resumed = Assert.Single(_stores.Claim(_store, wakeAt, Node), j => j.JobId == job.JobId);
        await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, wakeAt - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 20)));
        watch.Restart();
        var (done, replay) = await RunAsync(_lucky, resumed, new RunJournal(() => JobWorker.ToHostCalls(_store.GetJournal(job.JobId))) { CanPark = true });

        Assert.True(done.Succeeded, done.Error);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"the replayed sleep took {watch.Elapsed}");
        Assert.Equal(4, replay.Replayed);
        Assert.Null(replay.ParkedUntil);
        // The guest saw attempt 1 both times: the park was not an attempt.
        Assert.Equal(1, JsonDocument.Parse(done.Result!).RootElement.GetProperty("attempt").GetInt32());
        Assert.Equal(2, resumed.Fence);
    }

    [Fact]
    public async Task ARunOutsideAParkableJobSleepsInPlace()
    {
        var job = Submit("in-place-1", """{"sleep_ms": 1100}""");
        var journal = new RunJournal(() => []);
        var watch = Stopwatch.StartNew();

        var (outcome, _) = await RunAsync(_lucky, job, journal);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(1_050), $"slept only {watch.Elapsed}");
        Assert.Null(journal.ParkedUntil);
    }

    private static JournalEntry ToEntry(HostCall c) => new(c.Seq, c.Kind, c.RequestHash, c.Request, c.Response, JournalState.Done, c.At);

    private Job Submit(string id, string payload, int maxAttempts = 3)
    {
        _stores.Submit(_store, 1_000, TempStores.NewJob(id, payload: payload, maxAttempts: maxAttempts));
        return Assert.Single(_stores.Claim(_store, 1_000, Node), j => j.JobId == id);
    }

    // The retry falls due after its backoff; far enough ahead, the same node claims attempt 2.
    private Job Claim(Job job) => Assert.Single(_stores.Claim(_store, 100_000_000, Node), j => j.JobId == job.JobId);

    private async Task<(WorkflowOutcome Outcome, RunJournal Journal)> RunAsync(byte[] module, Job job, RunJournal? journal = null)
    {
        journal ??= new RunJournal(() => JobWorker.ToHostCalls(_store.GetJournal(job.JobId)));
        var run = TempRunner.NewRun(module, job.Payload, jobId: job.JobId) with { Attempt = job.Attempts, Journal = journal };
        var outcome = await _runner.RunAsync(run, () => module, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        return (JobWorker.WithJournalFailure(journal, outcome), journal);
    }

    // What the worker proposes for a finished run: its journal, then its outcome, in one entry.
    private void Finish(Job job, (WorkflowOutcome Outcome, RunJournal Journal) run)
    {
        var kind = run.Journal.Failure is not null ? OutcomeKind.FailedPermanently : run.Outcome.Succeeded ? OutcomeKind.Completed : OutcomeKind.Failed;
        var finish = new FinishJobs(Node, [new JobOutcome(job.JobId, job.Attempts, kind, run.Outcome.Succeeded ? run.Outcome.Result : run.Outcome.Error)]);
        Command[] commands = JobWorker.ToAppend(job, Node, run.Journal) is { } append ? [append, finish] : [finish];
        var results = _stores.Apply(_store, 2_000, commands);
        Assert.All(results, r => Assert.IsNotType<Rejected>(r));
    }
}
