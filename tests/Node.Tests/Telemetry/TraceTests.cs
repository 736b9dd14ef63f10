using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Flotilla.Node.Extensions;
using Flotilla.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace Flotilla.Node.Tests.Telemetry;

/// <summary>
/// A real one-node cluster hosted in-process with an in-memory trace exporter: a submitted job
/// yields a job.claim span and a job.execute span, and the execute span belongs to the trace
/// of the request that submitted the job.
/// </summary>
public sealed class TraceTests : IAsyncLifetime
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "flotilla-trace-tests", Guid.NewGuid().ToString("N"));
    private readonly LockedCollection<Activity> _spans = new();
    private readonly int _httpPort = FreePort();
    private readonly TestHttpServer _server = new();
    private WebApplication? _app;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _app = NodeApp.Create(
            [
                "--urls", $"http://127.0.0.1:{_httpPort}",
                "--Cluster:NodeId", "solo",
                "--Cluster:RaftEndpoint", $"127.0.0.1:{FreePort()}",
                "--Cluster:Bootstrap", "true",
                "--Cluster:Secret", "trace-tests",
                "--Cluster:DataDir", _dataDir,
                "--Durable:HttpAllow", $"127.0.0.1:{_server.Port}",
                "--Logging:LogLevel:Default", "Warning",
            ],
            services => services.AddOpenTelemetry().WithTracing(t => t.AddInMemoryExporter(_spans)));
        await _app.StartAsync();
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_httpPort}/") };
        await Eventually(async () =>
        {
            var workflows = await _http.GetFromJsonAsync<JsonElement>("workflows");
            return workflows.EnumerateArray().Any(w => w.GetProperty("name").GetString() == "echo");
        });
    }

    [Fact]
    public async Task ASubmittedJobYieldsClaimAndExecuteSpansInTheSubmitTrace()
    {
        // The caller's own span: the HttpClient (instrumented in this process too) carries its
        // trace to the node, whose request span the job remembers.
        using var caller = new Activity("test.submit") { ActivityTraceFlags = ActivityTraceFlags.Recorded }.SetIdFormat(ActivityIdFormat.W3C).Start();
        var traceId = caller.TraceId;
        using var request = new HttpRequestMessage(HttpMethod.Post, "jobs")
        {
            Content = JsonContent.Create(new { workflow = "echo", payload = new { traced = true } }),
        };

        using var response = await _http.SendAsync(request);
        caller.Stop();
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var jobId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("job_id").GetString()!;
        await Eventually(async () =>
            (await _http.GetFromJsonAsync<JsonElement>($"jobs/{jobId}")).GetProperty("status").GetString() == "completed",
            () => _http.GetStringAsync($"jobs/{jobId}"));
        await Eventually(() => Task.FromResult(_spans.Snapshot().Any(s => s.OperationName == "job.execute")));

        var spans = _spans.Snapshot();
        var execute = Assert.Single(spans, s => s.OperationName == "job.execute" && Equals(s.GetTagItem("flotilla.job.id"), jobId));
        Assert.Equal(traceId, execute.TraceId);
        Assert.Equal("echo", execute.GetTagItem("flotilla.job.workflow"));
        Assert.Equal(1, execute.GetTagItem("flotilla.job.attempt"));
        Assert.Equal("solo", execute.GetTagItem("flotilla.node"));
        Assert.Equal("completed", execute.GetTagItem("flotilla.job.outcome"));

        var claim = Assert.Single(spans, s => s.OperationName == "job.claim" && s.GetTagItem("flotilla.claim.batch_size") is int n && n > 0);
        Assert.Equal("solo", claim.GetTagItem("flotilla.node"));
        Assert.True(claim.GetTagItem("flotilla.raft.index") is long index && index > 0);
    }

    [Fact]
    public async Task SubmitItemsAreEachStoredOnTheirOwnInTheirOwnTrace()
    {
        // What the Api sends for single submits that arrived together: each item with its client's trace.
        var traces = new[] { ActivityTraceId.CreateRandom(), ActivityTraceId.CreateRandom() };
        var key = "submit-items-" + Guid.NewGuid().ToString("N");
        object Item(ActivityTraceId trace, object job) => new { trace_parent = $"00-{trace}-{ActivitySpanId.CreateRandom()}-01", job };
        using var request = new HttpRequestMessage(HttpMethod.Post, "cluster/submit")
        {
            Content = JsonContent.Create(new object?[]
            {
                Item(traces[0], new { workflow = "echo", payload = new { n = 0 }, idempotency_key = key }),
                Item(traces[1], new { workflow = "echo", priority = 1_000_000 }),
                Item(traces[1], new { workflow = "nope" }),
                Item(traces[1], new { workflow = "echo", payload = new { n = 3 }, idempotency_key = key }),
                Item(traces[1], new { workflow = "echo", payload = new { n = 4 } }),
                null,
                new { trace_parent = "not a traceparent", job = new { workflow = "echo", payload = new { n = 6 } } },
            }),
        };
        request.Headers.Add("X-Flotilla-Cluster-Secret", "trace-tests");

        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answers = (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToArray();
        Assert.Equal([202, 400, 400, 409, 202, 400, 202], answers.Select(a => a.GetProperty("status").GetInt32()));
        Assert.True(answers[5].GetProperty("body").GetProperty("errors").TryGetProperty("job", out _), answers[5].ToString());
        Assert.True(answers[1].GetProperty("body").GetProperty("errors").TryGetProperty("priority", out _), answers[1].ToString());
        Assert.True(answers[2].GetProperty("body").GetProperty("errors").TryGetProperty("workflow", out _), answers[2].ToString());
        Assert.Contains(key, answers[3].GetProperty("body").GetProperty("detail").GetString(), StringComparison.Ordinal);

        var stored = new[] { answers[0], answers[4] }.Select(a => a.GetProperty("body").GetProperty("job_id").GetString()!).ToArray();
        foreach (var (jobId, trace) in stored.Zip([traces[0], traces[1]]))
        {
            await Eventually(async () =>
                (await _http.GetFromJsonAsync<JsonElement>($"jobs/{jobId}")).GetProperty("status").GetString() == "completed",
                () => _http.GetStringAsync($"jobs/{jobId}"));
            await Eventually(() => Task.FromResult(_spans.Snapshot().Any(s => s.OperationName == "job.execute" && Equals(s.GetTagItem("flotilla.job.id"), jobId))));
            Assert.Equal(trace, _spans.Snapshot().Single(s => s.OperationName == "job.execute" && Equals(s.GetTagItem("flotilla.job.id"), jobId)).TraceId);
        }

        var counts = await _http.GetFromJsonAsync<JsonElement>("jobs?limit=100");
        Assert.Equal(2, counts.GetProperty("jobs").EnumerateArray().Count(j => stored.Contains(j.GetProperty("job_id").GetString())));
    }

    [Fact]
    public async Task ADurableJobsExecuteSpanCountsReplayedCallsAndShowsEachLiveOne()
    {
        foreach (var name in new[] { "lucky", "relay" })
        {
            using var module = new ByteArrayContent(await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, "Sdk", name + ".wasm")));
            module.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/wasm");
            (await _http.PutAsync($"workflows/{name}", module)).EnsureSuccessStatusCode();
        }

        // lucky fails its first attempt after four calls; the retry replays them.
        var retried = await SubmitAndWaitAsync(new { workflow = "lucky", payload = new { fail_first = true }, max_attempts = 2 }, attempts: 2);
        var called = await SubmitAndWaitAsync(new { workflow = "relay", payload = new { url = _server.Url("/traced") } }, attempts: 1);

        var spans = _spans.Snapshot();
        var attempts = spans.Where(s => s.OperationName == "job.execute" && Equals(s.GetTagItem("flotilla.job.id"), retried)).OrderBy(s => s.StartTimeUtc).ToArray();
        Assert.Equal([0, 4], attempts.Select(s => s.GetTagItem("flotilla.journal.replayed")));
        Assert.Equal(4, attempts[0].Events.Count(e => e.Name == "flotilla.host_call"));
        Assert.DoesNotContain(attempts[1].Events, e => e.Name == "flotilla.host_call");
        var relay = Assert.Single(spans, s => s.OperationName == "job.execute" && Equals(s.GetTagItem("flotilla.job.id"), called));
        var call = Assert.Single(relay.Events, e => e.Name == "flotilla.host_call" && Equals(e.Tags.Single(t => t.Key == "flotilla.journal.kind").Value, "http"));
        Assert.Equal($"http POST {_server.Url("/traced")}", call.Tags.Single(t => t.Key == "flotilla.journal.request").Value);
        Assert.Equal("status 200", call.Tags.Single(t => t.Key == "flotilla.journal.result").Value);
        Assert.Equal(3, call.Tags.Single(t => t.Key == "flotilla.journal.seq").Value);
    }

    private async Task<string> SubmitAndWaitAsync(object job, int attempts)
    {
        using var response = await _http.PostAsJsonAsync("jobs", job);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var jobId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("job_id").GetString()!;
        await Eventually(async () =>
            (await _http.GetFromJsonAsync<JsonElement>($"jobs/{jobId}")).GetProperty("status").GetString() == "completed",
            () => _http.GetStringAsync($"jobs/{jobId}"));
        // The span ends just after the outcome is queued: give the exporter a moment.
        await Eventually(() => Task.FromResult(_spans.Snapshot().Count(s => s.OperationName == "job.execute" && Equals(s.GetTagItem("flotilla.job.id"), jobId)) == attempts));
        return jobId;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _http?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task Eventually(Func<Task<bool>> condition, Func<Task<string>>? explain = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        Assert.Fail("Timed out. " + (explain is null ? string.Empty : await explain()));
    }

    private static int FreePort() => Flotilla.Tests.Shared.TestPorts.Take(1)[0];

    // The exporter adds spans from whichever thread ends them.
    private sealed class LockedCollection<T> : Collection<T>
    {
        private readonly Lock _lock = new();

        public T[] Snapshot()
        {
            lock (_lock)
            {
                return [.. this];
            }
        }

        protected override void InsertItem(int index, T item)
        {
            lock (_lock)
            {
                base.InsertItem(index, item);
            }
        }
    }
}
