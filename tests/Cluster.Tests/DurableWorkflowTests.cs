using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Flotilla.Client;

namespace Flotilla.Cluster.Tests;

/// <summary>Durable workflows on three real node processes: the SDKs' samples, their journal replicated and replayed.</summary>
public sealed class DurableWorkflowTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    // Short leases so a dead node's job comes back within the test.
    private readonly TestCluster _cluster = TestCluster.Create(configure: n =>
    {
        n.Settings["Worker:Slots"] = "2";
        n.Settings["Worker:LeaseMs"] = "2000";
    });

    /// <summary>The same <c>lucky</c> workflow built with each SDK (registered as <c>lucky-&lt;language&gt;</c>).</summary>
    public static TheoryData<string> Languages => new() { "c", "rust", "assemblyscript" };

    public async Task InitializeAsync()
    {
        await _cluster.StartAsync();
        foreach (var language in Languages)
        {
            // The C samples are copied to Sdk/ itself, the others to Sdk/<language>/.
            await RegisterAsync($"lucky-{language}", language == "c" ? Path.Combine("Sdk", "lucky.wasm") : Path.Combine("Sdk", language, "lucky.wasm"));
        }
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task AFailedDurableAttemptIsReplayedWithTheSameRandomBytesAndTime()
    {
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[1], new { workflow = "lucky-c", payload = new { fail_first = true }, max_attempts = 3 });

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
            Assert.InRange(entries[1].GetProperty("at").GetInt64() - done.Result.Value.GetProperty("now_ms").GetInt64(), -1000, 1000);
        }
    }

    [Fact]
    public async Task ADurableJobThatDivergesFromItsJournalFailsForGood()
    {
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[2], new { workflow = "lucky-c", payload = new { diverge = true }, max_attempts = 5 });

        var failed = await WaitForAsync(job.JobId, JobStatus.Failed);

        Assert.Equal(2, failed.Attempts);
        Assert.Equal("nondeterminism at seq 1: journal has now_ms, guest asked random_bytes 1", failed.Error);
        using var unknown = await _cluster.Nodes[0].Http.GetAsync("jobs/no-such-job/journal");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Languages))]
    public async Task ADurableJobWhoseNodeDiesDuringASleepIsReplayedOnAnotherNode(string language)
    {
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[0], new { workflow = $"lucky-{language}", payload = new { sleep_ms = 6000 }, max_attempts = 3 });
        // A sleep of a second or more commits the calls before it: wait for them, then kill the node.
        await _cluster.WaitForAsync(
            async () => (await GetJournalAsync(_cluster.Nodes[0], job.JobId)).GetProperty("entries").GetArrayLength() == 4,
            "the calls before the sleep to be committed",
            Timeout);
        var running = (await TestCluster.GetJobAsync(_cluster.Nodes[0], job.JobId))!;
        var victim = _cluster[running.ClaimedBy!];
        var killedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        victim.Kill();
        var survivor = _cluster.Nodes.First(n => n != victim);

        Job? done = null;
        await _cluster.WaitForAsync(
            async () => (done = await TestCluster.GetJobAsync(survivor, job.JobId)) is { Status: JobStatus.Completed },
            "the job to complete on another node",
            Timeout);

        Assert.Equal(2, done!.Attempts);
        Assert.NotEqual(victim.NodeId, done.CompletedBy);
        // The time was read before the kill: a live read on the second attempt would be later.
        Assert.True(done.Result!.Value.GetProperty("now_ms").GetInt64() < killedAt, $"now_ms {done.Result.Value.GetProperty("now_ms")} is not before the kill at {killedAt}");
        var entries = (await GetJournalAsync(survivor, job.JobId)).GetProperty("entries").EnumerateArray().ToArray();
        // The second attempt replayed them all and added none.
        Assert.Equal(["random_bytes", "now_ms", "clock_time_get", "sleep_ms"], entries.Select(e => e.GetProperty("kind").GetString()));
        Assert.All(entries, e => Assert.Equal(1, e.GetProperty("attempt").GetInt32()));
        Assert.Equal(2, done.Result.Value.GetProperty("attempt").GetInt32());
        Assert.Matches("^[0-9a-f]{16}$", done.Result.Value.GetProperty("lucky").GetString());
        Assert.Equal(["random_bytes 8", "sleep_ms 6000"], new[] { entries[0], entries[3] }.Select(e => e.GetProperty("request").GetString()));
    }

    private async Task RegisterAsync(string name, string file)
    {
        using var module = new ByteArrayContent(await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, file)));
        module.Headers.ContentType = new MediaTypeHeaderValue("application/wasm");
        using var response = await _cluster.Nodes[0].Http.PutAsync($"workflows/{name}", module);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
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
