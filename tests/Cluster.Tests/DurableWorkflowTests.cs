using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Flotilla.Client;
using Flotilla.Tests.Shared;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// Durable workflows on three real node processes: the SDKs' samples (C; Rust and AssemblyScript
/// with their HTTP part), their journals replicated and replayed, their http calls reaching a
/// real local server.
/// </summary>
public sealed class DurableWorkflowTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private readonly TestHttpServer _server = new();
    private readonly TestCluster _cluster;

    public DurableWorkflowTests() =>
        // Short leases so a dead node's job comes back within the test.
        _cluster = TestCluster.Create(configure: n =>
        {
            n.Settings["Worker:Slots"] = "2";
            n.Settings["Worker:LeaseMs"] = "2000";
            n.Settings["Durable:HttpAllow"] = $"127.0.0.1:{_server.Port}";
            // The sleeps here wait in place (parking has its own tests: DurableTimerTests).
            n.Settings["Durable:ParkThresholdMs"] = "60000";
        });

    /// <summary>The SDKs whose <c>lucky</c> sample has a build with its HTTP part (<c>lucky_http.wasm</c>).</summary>
    public static TheoryData<string> HttpLanguages => new() { "rust", "assemblyscript" };

    public async Task InitializeAsync()
    {
        await _cluster.StartAsync();
        foreach (var name in new[] { "lucky", "relay" })
        {
            using var module = new ByteArrayContent(await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, "Sdk", name + ".wasm")));
            module.Headers.ContentType = new MediaTypeHeaderValue("application/wasm");
            using var response = await _cluster.Nodes[0].Http.PutAsync("workflows/" + name, module);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task AFailedDurableAttemptIsReplayedWithTheSameRandomBytesAndTime()
    {
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[1], new { workflow = "lucky", payload = new { fail_first = true }, max_attempts = 3 });

        var done = await WaitForAsync(job.JobId, JobStatus.Completed);

        Assert.Equal(2, done.Attempts);
        // Attempt 1 told its draw on stderr (kept as the job's last error) before failing; the
        // retry, perhaps on another node, reports the same draw from the journal.
        var lucky = done.Result!.Value.GetProperty("lucky").GetString();
        Assert.Matches("^[0-9a-f]{16}$", lucky);
        Assert.Contains($"failing attempt 1 after drawing {lucky}", done.Error, StringComparison.Ordinal);

        await _cluster.WaitForIdenticalStoresAsync(Timeout);
        foreach (var node in _cluster.Nodes)
        {
            var journal = await GetJournalAsync(node, job.JobId);
            var entries = journal.GetProperty("entries").EnumerateArray().ToArray();
            Assert.Equal(["random_bytes", "now_ms", "clock_time_get", "sleep_ms"], entries.Select(e => e.GetProperty("kind").GetString()));
            Assert.Equal([1, 2, 3, 4], entries.Select(e => e.GetProperty("seq").GetInt32()));
            Assert.All(entries, e => Assert.Equal(1, e.GetProperty("attempt").GetInt32()));
            Assert.Equal("random_bytes 8", entries[0].GetProperty("request").GetString());
            // The runner's clock when the call was made: the time the guest was given, give or take.
            Assert.InRange(entries[1].GetProperty("at").GetDateTimeOffset().ToUnixTimeMilliseconds() - done.Result.Value.GetProperty("now_ms").GetInt64(), -1000, 1000);
        }
    }

    [Fact]
    public async Task ADurableJobThatDivergesFromItsJournalFailsForGood()
    {
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[2], new { workflow = "lucky", payload = new { diverge = true }, max_attempts = 5 });

        var failed = await WaitForAsync(job.JobId, JobStatus.Failed);

        Assert.Equal(2, failed.Attempts);
        Assert.Equal("nondeterminism at seq 1: journal has now_ms, guest asked random_bytes 1", failed.Error);
        using var unknown = await _cluster.Nodes[0].Http.GetAsync("jobs/no-such-job/journal");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task ADurableJobWhoseNodeDiesDuringASleepIsReplayedOnAnotherNodeWithoutRepeatingItsCall()
    {
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[0], new
        {
            workflow = "relay",
            payload = new { url = _server.Url("/first"), then = _server.Url("/second"), sleep_ms = 6000 },
            max_attempts = 3,
        });
        // The draw, the time and the first call are committed, then the sleep's wake-up time (a
        // sleep of a second or more commits first): kill the node during the sleep. The sleep
        // waits in place (the park threshold is above it) and is long enough that a loaded
        // machine's polling does not miss it.
        await _cluster.WaitForAsync(
            async () => (await GetJournalAsync(_cluster.Nodes[0], job.JobId)).GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).Count() >= 4,
            "the calls before the sleep to be committed",
            Timeout);
        var running = (await TestCluster.GetJobAsync(_cluster.Nodes[0], job.JobId))!;
        var victim = _cluster[running.ClaimedBy!];
        victim.Kill();
        Assert.Empty(_server.To("/second")); // killed before the sleep ended
        var survivor = _cluster.Nodes.First(n => n != victim);

        var done = await WaitForCompletionAsync(survivor, job.JobId);
        Assert.Equal(2, done.Attempts);
        Assert.NotEqual(victim.NodeId, done.CompletedBy);
        var result = done.Result!.Value;
        // The first call was made once, by the dead node, with the draw and time it journaled:
        // the replay reports those, and its answer, without calling again.
        var first = Assert.Single(_server.To("/first"));
        Assert.Equal($"{{\"lucky\": \"{result.GetProperty("lucky").GetString()}\", \"now_ms\": {result.GetProperty("now_ms").GetInt64()}}}", first.Body);
        Assert.Equal($"{job.JobId}:3", first.Headers["Idempotency-Key"]);
        Assert.Equal(200, result.GetProperty("first_status").GetInt32());
        var second = Assert.Single(_server.To("/second"));
        Assert.Equal($"{job.JobId}:5", second.Headers["Idempotency-Key"]);
        Assert.Equal(200, result.GetProperty("second_status").GetInt32());

        var entries = (await GetJournalAsync(survivor, job.JobId)).GetProperty("entries").EnumerateArray().ToArray();
        Assert.Equal(["random_bytes", "now_ms", "http", "sleep_ms", "http"], entries.Select(e => e.GetProperty("kind").GetString()));
        Assert.Equal([1, 1, 1, 1, 2], entries.Select(e => e.GetProperty("attempt").GetInt32()));
        Assert.All(entries, e => Assert.Equal("done", e.GetProperty("state").GetString()));
        Assert.Equal($"http POST {_server.Url("/first")}", entries[2].GetProperty("request").GetString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnHttpCallInFlightWhenItsNodeDiesAnswersMinusThreeOnReplayOrIsSentAgainWhenIdempotent(bool idempotent)
    {
        var received = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        _server.Reply = async (request, n) =>
        {
            if (n == 1)
            {
                // Held until its sender is dead: the job cannot know whether it took effect.
                received.TrySetResult();
                await release.Task.WaitAsync(Timeout);
            }

            return (200, $$"""{"n": {{n}}}""");
        };
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[0], new { workflow = "relay", payload = new { url = _server.Url("/hold"), idempotent }, max_attempts = 3 });
        await received.Task.WaitAsync(Timeout);
        var victim = _cluster[(await TestCluster.GetJobAsync(_cluster.Nodes[0], job.JobId))!.ClaimedBy!];
        victim.Kill();
        release.SetResult();
        var survivor = _cluster.Nodes.First(n => n != victim);

        var done = await WaitForCompletionAsync(survivor, job.JobId);
        Assert.Equal(2, done.Attempts);
        var result = done.Result!.Value;
        var sent = _server.To("/hold");
        var entry = (await GetJournalAsync(survivor, job.JobId)).GetProperty("entries")[2];
        Assert.Equal(2, entry.GetProperty("attempt").GetInt32());
        if (idempotent)
        {
            Assert.Equal([$"{job.JobId}:3", $"{job.JobId}:3"], sent.Select(r => r.Headers["Idempotency-Key"]));
            Assert.Equal(200, result.GetProperty("first_status").GetInt32());
            Assert.Equal("done", entry.GetProperty("state").GetString());
        }
        else
        {
            Assert.Single(sent);
            Assert.Equal(-3, result.GetProperty("first").GetInt64());
            Assert.Equal("interrupted", entry.GetProperty("state").GetString());
        }
    }

    [Theory]
    [MemberData(nameof(HttpLanguages))]
    public async Task AnSdkSampleWhoseNodeDiesDuringItsSleepFetchesAndPostsOnce(string language)
    {
        await RegisterAsync($"lucky-http-{language}", Path.Combine("Sdk", language, "lucky_http.wasm"));
        var payload = new { url = _server.Url("/page"), post_url = _server.Url("/results"), sleep_ms = 6000 };
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[0], new { workflow = $"lucky-http-{language}", payload, max_attempts = 3 });
        // The draw, the time, the GET and the sleep's wake-up are committed before it sleeps.
        await _cluster.WaitForAsync(
            async () => (await GetJournalAsync(_cluster.Nodes[0], job.JobId)).GetProperty("entries").GetArrayLength() == 5,
            "the calls before the sleep to be committed",
            Timeout);
        var victim = _cluster[(await TestCluster.GetJobAsync(_cluster.Nodes[0], job.JobId))!.ClaimedBy!];
        var killedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        victim.Kill();
        var survivor = _cluster.Nodes.First(n => n != victim);

        var done = await WaitForCompletionAsync(survivor, job.JobId);

        Assert.Equal(2, done.Attempts);
        Assert.NotEqual(victim.NodeId, done.CompletedBy);
        var result = done.Result!.Value;
        Assert.True(result.GetProperty("now_ms").GetInt64() < killedAt, $"now_ms {result.GetProperty("now_ms")} is not before the kill at {killedAt}");
        // The replay answered the GET from the journal: one request, and its answer is the one reported.
        Assert.Equal("GET", Assert.Single(_server.To("/page")).Method);
        Assert.Equal("""{"path": "/page", "n": 1}""", result.GetProperty("fetched").GetProperty("head").GetString());
        // The POST was made once, by the second attempt, with the replayed draw and time.
        var posted = Assert.Single(_server.To("/results"));
        Assert.Equal($"{job.JobId}:6", posted.Headers["Idempotency-Key"]);
        var body = JsonDocument.Parse(posted.Body).RootElement;
        Assert.Equal(result.GetProperty("lucky").GetString(), body.GetProperty("lucky").GetString());
        Assert.Equal(result.GetProperty("now_ms").GetInt64(), body.GetProperty("now_ms").GetInt64());
        Assert.Equal(200, result.GetProperty("posted").GetInt32());
        var entries = (await GetJournalAsync(survivor, job.JobId)).GetProperty("entries").EnumerateArray().ToArray();
        Assert.Equal(["random_bytes", "now_ms", "clock_time_get", "http", "sleep_ms", "http"], entries.Select(e => e.GetProperty("kind").GetString()));
        Assert.Equal([1, 1, 1, 1, 1, 2], entries.Select(e => e.GetProperty("attempt").GetInt32()));
        Assert.Equal($"http POST {_server.Url("/results")}", entries[5].GetProperty("request").GetString());
    }

    private async Task RegisterAsync(string name, string file)
    {
        using var module = new ByteArrayContent(await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, file)));
        module.Headers.ContentType = new MediaTypeHeaderValue("application/wasm");
        using var response = await _cluster.Nodes[0].Http.PutAsync($"workflows/{name}", module);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<Job> WaitForCompletionAsync(NodeProcess node, string jobId)
    {
        Job? done = null;
        await _cluster.WaitForAsync(
            async () => (done = await TestCluster.GetJobAsync(node, jobId)) is { Status: JobStatus.Completed },
            "the job to complete on another node",
            Timeout);
        return done!;
    }

    private async Task<Job> WaitForAsync(string jobId, JobStatus status)
    {
        Job? job = null;
        await _cluster.WaitForAsync(
            async () => (job = await TestCluster.GetJobAsync(_cluster.Nodes[0], jobId)) is { } j && j.Status == status,
            $"job {jobId} to be {status}",
            Timeout);
        return job!;
    }

    private static async Task<JsonElement> GetJournalAsync(NodeProcess node, string jobId)
    {
        using var response = await node.Http.GetAsync($"jobs/{jobId}/journal");
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }
}
