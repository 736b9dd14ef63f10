using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Flotilla.Client;
using Microsoft.Data.Sqlite;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// Durable timers and version pinning on three real node processes: a long durable sleep parks
/// the job (its slot freed, pending until the wake-up, not an attempt) and it completes after
/// the wake-up, across a full-cluster restart; a workflow registered again does not change the
/// code of a job that started on the old module, which is kept until no unfinished job needs it.
/// </summary>
/// <remarks>
/// The issue's scenario is a 30 s sleep over a 5 s threshold; here the threshold is 1 s and the
/// sleeps 10 s and 6 s, long enough to be parked and to do the rest meanwhile, short enough for CI.
/// </remarks>
public sealed class DurableTimerTests : IAsyncLifetime
{
    private const long ParkThresholdMs = 1_000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    // One slot per node: a parked job that held its slot would stop its node running anything else.
    private readonly TestCluster _cluster = TestCluster.Create(configure: n =>
    {
        n.Settings["Worker:Slots"] = "1";
        n.Settings["Worker:LeaseMs"] = "5000";
        n.Settings["Durable:ParkThresholdMs"] = ParkThresholdMs.ToString(System.Globalization.CultureInfo.InvariantCulture);
        n.Settings["Jobs:CheckEvery"] = "00:00:01";
    });

    public async Task InitializeAsync()
    {
        await _cluster.StartAsync();
        await RegisterAsync("lucky", await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, "Sdk", "lucky.wasm")));
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task ALongSleepParksTheJobFreesItsSlotAndTheJobCompletesOnceAfterAFullClusterRestart()
    {
        // max_attempts 1: a park that used up an attempt could not be resumed.
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[0], new { workflow = "lucky", payload = new { sleep_ms = 10_000 }, max_attempts = 1 });
        var parked = await WaitForAsync(job.JobId, j => j is { Status: JobStatus.Pending, Parks: 1 }, "the job to park");

        var journal = await GetJournalAsync(_cluster.Nodes[0], job.JobId);
        Assert.Equal(["random_bytes", "now_ms", "clock_time_get", "sleep_ms"], journal.Select(e => e.GetProperty("kind").GetString()));
        Assert.Equal(0, parked.Attempts);
        Assert.Null(parked.LeaseUntil);
        // run_at is the wake-up: the sleep's start (its journal time) plus 10 s, by the runner's clock.
        var sleptAt = journal[^1].GetProperty("at").GetDateTimeOffset();
        Assert.InRange((parked.RunAt - sleptAt).TotalMilliseconds, 10_000 - 50, 10_000 + 50);
        var parker = parked.ClaimedBy!;

        // The parker's one slot is free: it runs other jobs while the parked job waits.
        var ranOnParker = false;
        for (var round = 0; round < 10 && !ranOnParker; round++)
        {
            var others = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
                TestCluster.SubmitAsync(_cluster.Nodes[i % 3], new { workflow = "echo", payload = new { round, i } })));
            var done = await Task.WhenAll(others.Select(o => WaitForAsync(o.JobId, j => j.Status == JobStatus.Completed, "an echo job")));
            ranOnParker = done.Any(d => d.CompletedBy == parker && d.UpdatedAt < parked.RunAt);
        }

        Assert.True(ranOnParker, $"{parker} ran no other job while the job it parked waited");

        // Every node down and up again while the job is parked.
        Assert.Equal(JobStatus.Pending, (await TestCluster.GetJobAsync(_cluster.Nodes[0], job.JobId))!.Status);
        var killedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var node in _cluster.Nodes)
        {
            node.Kill();
        }

        await _cluster.StartAsync(Timeout);

        var completed = await WaitForAsync(job.JobId, j => j.IsFinished, "the job to finish after the wake-up");
        Assert.Equal(JobStatus.Completed, completed.Status);
        Assert.True(completed.UpdatedAt >= parked.RunAt, $"finished at {completed.UpdatedAt:O}, before its wake-up at {parked.RunAt:O}");
        Assert.Equal((1, 1), (completed.Attempts, completed.Parks));
        // The resumed run replayed the parked one: the time read before the park (a live read
        // would be after the restart), and nothing journaled twice.
        var result = completed.Result!.Value;
        Assert.Equal(1, result.GetProperty("attempt").GetInt32());
        Assert.True(result.GetProperty("now_ms").GetInt64() < killedAt, $"now_ms {result.GetProperty("now_ms")} is not before the restart at {killedAt}");
        var after = await GetJournalAsync(_cluster.Nodes[1], job.JobId);
        Assert.Equal(4, after.Length);
        Assert.All(after, e => Assert.Equal(1, e.GetProperty("attempt").GetInt32()));
        await _cluster.WaitForIdenticalStoresAsync(Timeout);
    }

    [Fact]
    public async Task AWorkflowRegisteredAgainDoesNotChangeTheCodeOfAJobThatStartedOnTheOldModule()
    {
        var v1 = Wasmtime.Module.ConvertText(Guest(version: 1, sleepMs: 6_000));
        var v2 = Wasmtime.Module.ConvertText(Guest(version: 2, sleepMs: 0));
        await RegisterAsync("pinned", v1);
        var old = await TestCluster.SubmitAsync(_cluster.Nodes[1], new { workflow = "pinned", payload = new { } });
        var cancelled = await TestCluster.SubmitAsync(_cluster.Nodes[2], new { workflow = "pinned", payload = new { } });
        await WaitForAsync(old.JobId, j => j is { Status: JobStatus.Pending, Parks: 1 }, "the v1 job to park");

        // A parked job is pending: cancelling it works like any other, and it never runs again.
        await WaitForAsync(cancelled.JobId, j => j is { Status: JobStatus.Pending, Parks: 1 }, "the second v1 job to park");
        using (var cancel = await _cluster.Nodes[0].Http.PostAsync($"jobs/{cancelled.JobId}/cancel", null))
        {
            Assert.True(cancel.IsSuccessStatusCode, await cancel.Content.ReadAsStringAsync());
        }

        await RegisterAsync("pinned", v2);
        var modulesMeanwhile = _cluster.Nodes.Select(ModulesOf).ToArray();
        Assert.Equal(JobStatus.Pending, (await TestCluster.GetJobAsync(_cluster.Nodes[0], old.JobId))!.Status);
        Assert.All(modulesMeanwhile, modules => Assert.Contains(Sha(v1), modules));

        var fresh = await TestCluster.SubmitAsync(_cluster.Nodes[2], new { workflow = "pinned", payload = new { } });
        var freshDone = await WaitForAsync(fresh.JobId, j => j.IsFinished, "the v2 job");
        var oldDone = await WaitForAsync(old.JobId, j => j.IsFinished, "the v1 job to finish after its wake-up");

        Assert.Equal((JobStatus.Completed, 2, Sha(v2)), (freshDone.Status, freshDone.Result!.Value.GetProperty("version").GetInt32(), freshDone.ModuleSha256));
        Assert.Equal((JobStatus.Completed, 1, Sha(v1)), (oldDone.Status, oldDone.Result!.Value.GetProperty("version").GetInt32(), oldDone.ModuleSha256));

        // No unfinished job needs v1 any more: the leader's collector deletes it on every node.
        await _cluster.WaitForAsync(
            () => Task.FromResult(_cluster.Nodes.All(n => !ModulesOf(n).Contains(Sha(v1)))),
            "the old module to be deleted everywhere",
            Timeout);
        Assert.All(_cluster.Nodes, n => Assert.Contains(Sha(v2), ModulesOf(n)));

        // Well past its wake-up: the cancelled job stayed cancelled and never ran again.
        var stillCancelled = (await TestCluster.GetJobAsync(_cluster.Nodes[0], cancelled.JobId))!;
        Assert.True(DateTimeOffset.UtcNow > stillCancelled.RunAt, "the cancelled job's wake-up has not passed yet");
        Assert.Equal((JobStatus.Cancelled, 0, (JsonElement?)null), (stillCancelled.Status, stillCancelled.Attempts, stillCancelled.Result));
        await _cluster.WaitForIdenticalStoresAsync(Timeout);
    }

    // A durable guest (it imports flotilla) that sleeps, then prints {"version": N}.
    private static string Guest(int version, long sleepMs) => $$"""
        (module
          (import "flotilla" "sleep_ms" (func $sleep (param i64) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 16) "{\"version\": {{version}}}")
          (func (export "_start")
            (drop (call $sleep (i64.const {{sleepMs}})))
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (i32.const 14))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
        """;

    private static string Sha(byte[] module) => Convert.ToHexStringLower(SHA256.HashData(module));

    // The node's own database, read-only: which module versions it stores.
    private static HashSet<string> ModulesOf(NodeProcess node)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(node.DataDir, "flotilla.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sha256 FROM modules;";
        using var reader = command.ExecuteReader();
        var modules = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read())
        {
            modules.Add(reader.GetString(0));
        }

        return modules;
    }

    private async Task RegisterAsync(string name, byte[] module)
    {
        using var content = new ByteArrayContent(module);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/wasm");
        using var response = await _cluster.Nodes[0].Http.PutAsync($"workflows/{name}", content);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<Job> WaitForAsync(string jobId, Func<Job, bool> condition, string what)
    {
        Job? job = null;
        await _cluster.WaitForAsync(
            async () => (job = await TestCluster.GetJobAsync(_cluster.Nodes[0], jobId)) is { } j && condition(j),
            $"{what} ({jobId}: {job?.Status}, parks {job?.Parks})",
            Timeout);
        return job!;
    }

    private static async Task<JsonElement[]> GetJournalAsync(NodeProcess node, string jobId)
    {
        using var response = await node.Http.GetAsync($"jobs/{jobId}/journal");
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("entries").EnumerateArray().Select(e => e.Clone()).ToArray();
    }
}
