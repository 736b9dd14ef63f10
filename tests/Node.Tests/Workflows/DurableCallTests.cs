using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Flotilla.Node.Store;
using Flotilla.Node.Tests.Store;
using Flotilla.Node.Worker;
using Flotilla.Node.Workflows;
using Flotilla.Node.Workflows.Durable;
using Flotilla.Tests.Shared;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Flotilla.Node.Tests.Workflows;

/// <summary>
/// The <c>call</c> side effect (op <c>http</c>) on real Wasmtime: the C SDK's relay sample calls a
/// real local HTTP server; its journal is committed to a real SQLite store as the worker does it.
/// </summary>
public sealed class DurableCallTests : IAsyncLifetime
{
    private const string Node = "node-a";

    private static readonly byte[] _relay = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Sdk", "relay.wasm"));

    private readonly TestHttpServer _server = new();
    private readonly TempRunner _runners = new();
    private readonly TempStores _stores = new();
    private readonly List<ServiceProvider> _services = [];
    private readonly JobStore _store;
    private readonly WasmRunner _runner;

    // What reached the store, in commit order, each as (seq, state).
    private readonly List<(int Seq, JournalState State)> _commits = [];

    public DurableCallTests()
    {
        _store = _stores.Open();
        _runner = Runner("127.0.0.1");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _runners.Dispose();
        _stores.Dispose();
        foreach (var services in _services)
        {
            await services.DisposeAsync();
        }
    }

    [Fact]
    public async Task AnAllowedCallCommitsItsIntentFirstAndGetsTheResponse()
    {
        var job = Submit("call-1", new { url = _server.Url("/first") });
        List<(int, JournalState)>? committedWhenSent = null;
        _server.Reply = (request, n) =>
        {
            lock (_commits)
            {
                committedWhenSent = [.. _commits];
            }

            return Task.FromResult((201, """{"ok": true}"""));
        };
        using var span = new Activity("execute").Start();

        var (outcome, journal) = await RunAsync(job);
        span.Stop();

        Assert.True(outcome.Succeeded, outcome.Error);
        var result = Result(outcome);
        Assert.Equal(201, result.GetProperty("first_status").GetInt32());
        var sent = Assert.Single(_server.To("/first"));
        Assert.Equal("POST", sent.Method);
        Assert.Equal("call-1:3", sent.Headers["Idempotency-Key"]);
        Assert.Equal("application/json", sent.Headers["Content-Type"]);
        Assert.Equal($$"""{"lucky": "{{result.GetProperty("lucky").GetString()}}", "now_ms": {{result.GetProperty("now_ms").GetInt64()}}}""", sent.Body);
        // The draw, the time and the intent were on the log before the request left; the result right after.
        Assert.Equal([(1, JournalState.Done), (2, JournalState.Done), (3, JournalState.Intent)], committedWhenSent!);
        Assert.Contains((3, JournalState.Done), _commits);
        var stored = _store.GetJournal(job.JobId);
        Assert.Equal(["random_bytes", "now_ms", "http"], stored.Select(e => e.Kind));
        Assert.Equal($"http POST {_server.Url("/first")}", stored[2].Request);
        Assert.Equal(JournalState.Done, stored[2].State);
        var response = JsonDocument.Parse(stored[2].Response!).RootElement;
        Assert.Equal(201, response.GetProperty("status").GetInt32());
        Assert.Equal("yes", response.GetProperty("headers").GetProperty("x-test").GetString());
        Assert.Equal("""{"ok": true}""", response.GetProperty("body").GetString());
        Assert.Equal(stored[2].Response!.Length, result.GetProperty("first").GetInt64());
        // A cheap call after the last side effect waits for the outcome's entry.
        Assert.Equal(["sleep_ms"], journal.Pending.Select(c => c.Kind));
        var call = Assert.Single(span.Events, e => (string?)e.Tags.Single(t => t.Key == "flotilla.journal.kind").Value == "http");
        Assert.Equal("status 201", call.Tags.Single(t => t.Key == "flotilla.journal.result").Value);
    }

    [Fact]
    public async Task ResponseReadCopiesAtMostItsCap()
    {
        var job = Submit("call-cap", new { url = _server.Url("/first"), cap = 5 });

        var (outcome, _) = await RunAsync(job);

        var result = Result(outcome);
        Assert.Equal(5, result.GetProperty("read").GetInt32());
        Assert.Equal("""{"sta""", result.GetProperty("head").GetString());
        Assert.True(result.GetProperty("first").GetInt64() > 5);
    }

    [Fact]
    public async Task ACallToAHostOutsideTheAllowListIsDeniedAndStaysDeniedOnReplay()
    {
        var strict = Runner("example.org, 127.0.0.1:1");
        var job = Submit("call-denied", new { url = _server.Url("/first") });

        var (first, firstJournal) = await RunAsync(job, strict);
        Assert.Equal(-4, Result(first).GetProperty("first").GetInt64());
        var retry = FailAndClaimAgain(job, firstJournal);
        // Allowed by this runner, but the journal decided: replays agree with the first run.
        var (second, journal) = await RunAsync(retry);

        Assert.Equal(-4, Result(second).GetProperty("first").GetInt64());
        Assert.Empty(_server.Requests);
        Assert.Equal(4, journal.Replayed);
        Assert.Equal([4], _store.GetJournal(job.JobId)[2].Response);
    }

    [Fact]
    public async Task AResponseOverOneMiBAnswersMinusTwoAndIsNotSentAgainOnReplay()
    {
        _server.Reply = (_, _) => Task.FromResult((200, new string('x', 2 * 1024 * 1024)));
        var job = Submit("call-big", new { url = _server.Url("/big") });

        var (first, firstJournal) = await RunAsync(job);
        var retry = FailAndClaimAgain(job, firstJournal);
        var (second, _) = await RunAsync(retry);

        Assert.Equal(-2, Result(first).GetProperty("first").GetInt64());
        Assert.Equal(-2, Result(second).GetProperty("first").GetInt64());
        Assert.Single(_server.To("/big"));
        Assert.Equal([2], _store.GetJournal(job.JobId)[2].Response);
    }

    [Fact]
    public async Task AReplayAnswersAJournaledCallAndGoesLiveAfterIt()
    {
        var job = Submit("call-replay", new { url = _server.Url("/first"), then = _server.Url("/second"), sleep_ms = 1500 });
        using var cancel = new CancellationTokenSource();
        var firstRun = RunAsync(job, token: cancel.Token);
        // Stopped during its sleep, as a dead node's guest would be; its calls were committed.
        await WaitUntilAsync(() => _commits.Count >= 5);
        await cancel.CancelAsync();
        var (first, _) = await firstRun;
        Assert.Equal("cancelled", first.Error);

        var retry = FailAndClaimAgain(job);
        var (second, journal) = await RunAsync(retry);

        var result = Result(second);
        Assert.Single(_server.To("/first"));
        Assert.Single(_server.To("/second"));
        // The draw and the time the first attempt sent are the ones the replay reports.
        Assert.Contains($"\"lucky\": \"{result.GetProperty("lucky").GetString()}\", \"now_ms\": {result.GetProperty("now_ms").GetInt64()}", _server.To("/first")[0].Body, StringComparison.Ordinal);
        Assert.Equal(200, result.GetProperty("first_status").GetInt32());
        Assert.Equal(200, result.GetProperty("second_status").GetInt32());
        Assert.Equal($"call-replay:5", _server.To("/second")[0].Headers["Idempotency-Key"]);
        Assert.Equal(4, journal.Replayed);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnInterruptedCallAnswersMinusThreeOnReplayUnlessItIsIdempotent(bool idempotent)
    {
        var received = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        _server.Reply = async (request, n) =>
        {
            if (n == 1)
            {
                // Held until the guest that sent it is gone: its outcome is unknown to the job.
                received.TrySetResult();
                await release.Task;
            }

            return (200, $$"""{"n": {{n}}}""");
        };
        var job = Submit($"call-held-{idempotent}", new { url = _server.Url("/hold"), idempotent });
        using var cancel = new CancellationTokenSource();
        var firstRun = RunAsync(job, token: cancel.Token);
        await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await cancel.CancelAsync();
        Assert.Equal("cancelled", (await firstRun).Outcome.Error);
        release.SetResult();
        Assert.Equal(JournalState.Intent, _store.GetJournal(job.JobId)[2].State);

        var retry = FailAndClaimAgain(job);
        var second = await RunAsync(retry);
        Finish(retry, second);

        var result = Result(second.Outcome);
        var sent = _server.To("/hold");
        var entry = _store.GetJournal(job.JobId)[2];
        Assert.Equal(JournalState.Done, entry.State);
        Assert.Equal(2, entry.Attempt);
        if (idempotent)
        {
            Assert.Equal(2, sent.Count);
            Assert.Equal([$"{job.JobId}:3", $"{job.JobId}:3"], sent.Select(r => r.Headers["Idempotency-Key"]));
            Assert.Equal(200, result.GetProperty("first_status").GetInt32());
            Assert.Equal("""{"n": 2}""", JsonDocument.Parse(entry.Response!).RootElement.GetProperty("body").GetString());
        }
        else
        {
            Assert.Single(sent);
            Assert.Equal(-3, result.GetProperty("first").GetInt64());
            Assert.Equal([3], entry.Response);
        }
    }

    [Fact]
    public async Task AJournalOver64MiBFailsTheJobForGood()
    {
        // random_bytes of 1 MiB, 70 times: the 64th entry would take the journal past 64 MiB.
        var module = TempRunner.Wat("""
            (module
              (import "flotilla" "random_bytes" (func $random (param i32 i32) (result i32)))
              (memory (export "memory") 17)
              (func (export "_start")
                (local $i i32)
                (loop $more
                  (drop (call $random (i32.const 0) (i32.const 1048576)))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br_if $more (i32.lt_u (local.get $i) (i32.const 70))))))
            """);
        var job = Submit("call-limit", new { url = "unused" });

        var (outcome, journal) = await RunAsync(job, module: module);
        Finish(job, (outcome, journal));

        Assert.Equal("journal limit (64 MiB) reached at seq 64: guest asked random_bytes 1048576", outcome.Error);
        var stored = _store.GetJob(job.JobId)!;
        Assert.Equal(JobStatus.Failed, stored.Status);
        Assert.Equal(1, stored.Attempts);
        Assert.StartsWith("journal limit", stored.Error, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(SdkSamples.HttpLanguages), MemberType = typeof(SdkSamples))]
    public async Task AnSdkSampleFetchesAndPostsOnceAcrossAReplay(string language)
    {
        var module = SdkSamples.Lucky(language, http: true);
        var job = Submit($"sdk-{language}", new { url = _server.Url("/page"), post_url = _server.Url("/results"), sleep_ms = 1500 });
        using var cancel = new CancellationTokenSource();
        var firstRun = RunAsync(job, module: module, token: cancel.Token);
        // Stopped during its sleep, as a dead node's guest would be: draw, time, GET and the sleep are committed.
        await WaitUntilAsync(() =>
        {
            lock (_commits)
            {
                return _commits.Contains((5, JournalState.Done));
            }
        });
        await cancel.CancelAsync();
        Assert.Equal("cancelled", (await firstRun).Outcome.Error);

        var retry = FailAndClaimAgain(job);
        var (second, journal) = await RunAsync(retry, module: module);

        var result = Result(second);
        Assert.Equal(5, journal.Replayed);
        Assert.Equal(["random_bytes", "now_ms", "clock_time_get", "http", "sleep_ms", "http"], _store.GetJournal(job.JobId).Select(e => e.Kind));
        // The GET was answered from the journal on replay: the server saw it once, and its first answer is the one reported.
        var page = Assert.Single(_server.To("/page"));
        Assert.Equal("GET", page.Method);
        Assert.Equal(200, result.GetProperty("fetched").GetProperty("status").GetInt32());
        Assert.Equal("""{"path": "/page", "n": 1}""", result.GetProperty("fetched").GetProperty("head").GetString());
        // The POST carries the replayed draw and time, once, with the key of its journal entry.
        var posted = Assert.Single(_server.To("/results"));
        Assert.Equal("POST", posted.Method);
        Assert.Equal($"{job.JobId}:6", posted.Headers["Idempotency-Key"]);
        Assert.Equal("application/json", posted.Headers["Content-Type"]);
        var body = JsonDocument.Parse(posted.Body).RootElement;
        Assert.Equal(result.GetProperty("lucky").GetString(), body.GetProperty("lucky").GetString());
        Assert.Equal(result.GetProperty("now_ms").GetInt64(), body.GetProperty("now_ms").GetInt64());
        Assert.Equal(200, result.GetProperty("posted").GetInt32());
        Assert.Equal(2, result.GetProperty("attempt").GetInt32());
    }

    [Theory]
    [MemberData(nameof(SdkSamples.HttpLanguages), MemberType = typeof(SdkSamples))]
    public async Task AnSdkSampleReportsADeniedCall(string language)
    {
        var strict = Runner("example.org");
        var job = Submit($"sdk-denied-{language}", new { url = _server.Url("/page") });

        var (outcome, _) = await RunAsync(job, strict, SdkSamples.Lucky(language, http: true));

        Assert.Equal($"exit code 1: GET {_server.Url("/page")}: denied (the host is not in Durable:HttpAllow)", outcome.Error);
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public void HttpAllowTakesHostsAndHostPorts()
    {
        var allow = new HttpAllowList(" api.example.com, 127.0.0.1:8080 ,[::1]:9000");

        Assert.True(allow.Allows(new Uri("https://API.example.com/x")));
        Assert.True(allow.Allows(new Uri("http://api.example.com:81/x")));
        Assert.True(allow.Allows(new Uri("http://127.0.0.1:8080/")));
        Assert.False(allow.Allows(new Uri("http://127.0.0.1:8081/")));
        Assert.True(allow.Allows(new Uri("http://[::1]:9000/")));
        Assert.False(allow.Allows(new Uri("http://example.com/")));
        Assert.False(new HttpAllowList("").Allows(new Uri("http://127.0.0.1/")));
    }

    [Theory]
    [InlineData("""{"method": "GET", "url": "http://a/x"}""", true)]
    [InlineData("""{"method": "POST", "url": "https://a/x", "headers": {"a": "b"}, "body": "hi"}""", true)]
    [InlineData("""{"method": "GET", "url": "ftp://a/x"}""", false)]
    [InlineData("""{"method": "get", "url": "http://a/x"}""", false)]
    [InlineData("""{"url": "http://a/x"}""", false)]
    [InlineData("""{"method": "GET", "url": "http://a/x", "body": 3}""", false)]
    [InlineData("""{"method": "GET", "url": "http://a/x", "headers": {"a": 1}}""", false)]
    [InlineData("""[1]""", false)]
    [InlineData("""{"method": "GET",""", false)]
    public void AnHttpRequestIsParsedOrRefused(string json, bool valid) =>
        Assert.Equal(valid, HttpCallRequest.Parse(Encoding.UTF8.GetBytes(json)) is not null);

    private WasmRunner Runner(string allow)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Durable:HttpAllow"] = allow }).Build());
        HttpCalls.AddTo(services);
        var provider = services.BuildServiceProvider();
        _services.Add(provider);
        return _runners.Open(hostModules: new DurableHostModule(TimeProvider.System, provider.GetRequiredService<HttpCalls>()));
    }

    private Job Submit(string id, object payload)
    {
        _stores.Submit(_store, 1_000, TempStores.NewJob(id, payload: JsonSerializer.Serialize(payload), maxAttempts: 3));
        return Assert.Single(_stores.Claim(_store, 1_000, Node), j => j.JobId == id);
    }

    // The attempt failed (with the calls it had not committed, if given); far enough ahead, the
    // same node claims the next.
    private Job FailAndClaimAgain(Job job, RunJournal? uncommitted = null)
    {
        var failed = new FinishJobs(Node, [new JobOutcome(job.JobId, job.Attempts, OutcomeKind.Failed, "lost")]);
        Command[] commands = uncommitted is not null && JobWorker.ToAppend(job, Node, uncommitted) is { } append ? [append, failed] : [failed];
        Assert.All(_stores.Apply(_store, 3_000, commands), r => Assert.IsNotType<Rejected>(r));
        return Assert.Single(_stores.Claim(_store, 100_000_000, Node), j => j.JobId == job.JobId);
    }

    private async Task<(WorkflowOutcome Outcome, RunJournal Journal)> RunAsync(Job job, WasmRunner? runner = null, byte[]? module = null, CancellationToken token = default)
    {
        module ??= _relay;
        var journal = new RunJournal(() => JobWorker.ToHostCalls(_store.GetJournal(job.JobId)))
        {
            // As the worker's commit: an AppendJournal fenced by the claim, applied before it returns.
            Committer = calls =>
            {
                var entries = calls.Select(c => new JournalEntry(c.Seq, c.Kind, c.RequestHash, c.Request, c.Intent ? null : c.Response, c.Intent ? JournalState.Intent : JournalState.Done, c.At)).ToArray();
                lock (_commits)
                {
                    var result = _stores.ApplyOne(_store, 2_000, new AppendJournal(job.JobId, Node, job.Attempts, entries));
                    if (result is not CountResult)
                    {
                        return Task.FromException(new InvalidOperationException($"not committed: {result}"));
                    }

                    _commits.AddRange(entries.Select(e => (e.Seq, e.State)));
                }

                return Task.CompletedTask;
            },
        };
        var run = TempRunner.NewRun(module, job.Payload, jobId: job.JobId, timeout: TimeSpan.FromSeconds(30)) with { Attempt = job.Attempts, Journal = journal };
        var outcome = await (runner ?? _runner).RunAsync(run, () => module, token).WaitAsync(TimeSpan.FromSeconds(60));
        return (JobWorker.WithJournalFailure(journal, outcome), journal);
    }

    private void Finish(Job job, (WorkflowOutcome Outcome, RunJournal Journal) run)
    {
        var kind = run.Journal.Failure is not null ? OutcomeKind.FailedPermanently : run.Outcome.Succeeded ? OutcomeKind.Completed : OutcomeKind.Failed;
        var finish = new FinishJobs(Node, [new JobOutcome(job.JobId, job.Attempts, kind, run.Outcome.Succeeded ? run.Outcome.Result : run.Outcome.Error)]);
        Command[] commands = JobWorker.ToAppend(job, Node, run.Journal) is { } append ? [append, finish] : [finish];
        Assert.All(_stores.Apply(_store, 4_000, commands), r => Assert.IsNotType<Rejected>(r));
    }

    private static JsonElement Result(WorkflowOutcome outcome)
    {
        Assert.True(outcome.Succeeded, outcome.Error);
        return JsonDocument.Parse(outcome.Result!).RootElement;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "timed out waiting");
            await Task.Delay(20);
        }
    }
}
