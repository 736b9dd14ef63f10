using System.Net;
using System.Net.Http.Json;
using Flotilla.Client;

namespace Flotilla.Cluster.Tests;

/// <summary>Jobs run for real: three nodes claim and execute them as WebAssembly workflows.</summary>
public sealed class WorkerTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    // Short leases so a dead node's job comes back within the test; two slots per node so
    // one node cannot swallow a burst alone.
    private readonly TestCluster _cluster = TestCluster.Create(configure: n =>
    {
        n.Settings["Worker:LeaseMs"] = "2000";
        n.Settings["Worker:Slots"] = "2";
    });

    private ApiProcess? _api;

    public async Task InitializeAsync()
    {
        await _cluster.StartAsync();
        _api = await ApiProcess.StartAsync(_cluster.Nodes);
    }

    public async Task DisposeAsync()
    {
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task ThreeHundredJobsThroughTheApiEachCompleteExactlyOnceAcrossSeveralNodes()
    {
        // Submitted one by one, as many clients would, concurrently.
        var ids = new HashSet<string>();
        foreach (var chunk in Enumerable.Range(0, 300).Chunk(30))
        {
            var accepted = await Task.WhenAll(chunk.Select(async i =>
            {
                using var response = await _api!.Http.PostAsJsonAsync("jobs", new { workflow = "echo", payload = new { i } }, FlotillaJson.Options);
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                return (await response.Content.ReadFromJsonAsync<Job>(FlotillaJson.Options))!.JobId;
            }));
            ids.UnionWith(accepted);
        }

        Assert.Equal(300, ids.Count);

        var done = await WaitForAllAsync(ids, JobStatus.Completed);

        Assert.All(done, job =>
        {
            Assert.Equal(1, job.Attempts); // ran once: no second claim, no retry
            Assert.NotNull(job.CompletedBy);
            Assert.Equal(job.ClaimedBy, job.CompletedBy);
            Assert.Equal(job.CompletedBy, job.Result!.Value.GetProperty("node").GetString());
            Assert.Equal(job.Payload.GetProperty("i").GetInt32(), job.Result.Value.GetProperty("payload").GetProperty("i").GetInt32());
        });
        Assert.True(done.Select(j => j.CompletedBy).Distinct().Count() >= 2, "only one node ran jobs");
    }

    [Fact]
    public async Task AJobWhoseNodeDiesIsRunAgainElsewhereAfterItsLeaseExpires()
    {
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[0], new { workflow = "sleep", payload = new { ms = 6000 } });
        Job? running = null;
        await _cluster.WaitForAsync(
            async () => (running = await TestCluster.GetJobAsync(_cluster.Nodes[0], job.JobId)) is { Status: JobStatus.Running },
            "the sleep job to start",
            Timeout);

        var victim = _cluster[running!.ClaimedBy!];
        victim.Kill();
        var survivor = _cluster.Nodes.First(n => n != victim);
        Job? finished = null;
        await _cluster.WaitForAsync(
            async () => (finished = await TestCluster.GetJobAsync(survivor, job.JobId)) is { Status: JobStatus.Completed },
            "the job to complete elsewhere",
            Timeout);

        Assert.NotEqual(victim.NodeId, finished!.CompletedBy);
        Assert.Equal(2, finished.Attempts);
        Assert.Equal(finished.CompletedBy, finished.Result!.Value.GetProperty("node").GetString());
    }

    [Fact]
    public async Task TheApiRefusesAnUnknownWorkflowAndKeepsTakingWritesAfterTheLeaderDies()
    {
        using (var unknown = await _api!.Http.PostAsJsonAsync("jobs", new { workflow = "no-such-workflow", payload = 1 }, FlotillaJson.Options))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
            Assert.Contains("unknown workflow", await unknown.Content.ReadAsStringAsync());
        }

        var leader = _cluster[await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout)];
        leader.Kill();

        using var response = await _api.Http.PostAsJsonAsync("jobs", new { workflow = "echo", payload = "after the leader died" }, FlotillaJson.Options);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<Job>(FlotillaJson.Options))!.JobId;
        await WaitForAllAsync([id], JobStatus.Completed);
    }

    [Fact]
    public async Task AFailingWorkflowIsRetriedWithBackoffThenFailsWithItsReason()
    {
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[2], new { workflow = "fail", payload = 1, max_attempts = 3 });

        // After the first failed attempt it waits for its retry, at least the base backoff.
        Job? retrying = null;
        await _cluster.WaitForAsync(
            async () => (retrying = await TestCluster.GetJobAsync(_cluster.Nodes[2], job.JobId)) is { Status: JobStatus.Pending, Attempts: 1 },
            "the first failed attempt",
            Timeout);
        Assert.Contains("exit code 1", retrying!.Error);
        Assert.True(retrying.RunAt - retrying.UpdatedAt >= TimeSpan.FromSeconds(1), $"retry at {retrying.RunAt:O} after failing at {retrying.UpdatedAt:O}");

        var failed = (await WaitForAllAsync([job.JobId], JobStatus.Failed)).Single();
        Assert.Equal(3, failed.Attempts);
        Assert.Contains("exit code 1", failed.Error);
    }

    [Fact]
    public async Task ANeverEndingWorkflowIsStoppedByItsTimeoutAndTheNodeKeepsServing()
    {
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[0], new { workflow = "spin", payload = 1, max_attempts = 1, timeout_ms = 500 });

        var failed = (await WaitForAllAsync([job.JobId], JobStatus.Failed)).Single();

        Assert.Contains("timeout after 500ms", failed.Error);
        var echo = await TestCluster.SubmitAsync(_cluster[failed.ClaimedBy!], new { workflow = "echo", payload = "still here" });
        await WaitForAllAsync([echo.JobId], JobStatus.Completed);
    }

    private async Task<List<Job>> WaitForAllAsync(IReadOnlyCollection<string> ids, JobStatus status)
    {
        var node = _cluster.Nodes.First(n => n.IsRunning);
        var jobs = new List<Job>();
        await _cluster.WaitForAsync(
            async () =>
            {
                jobs.Clear();
                foreach (var id in ids)
                {
                    if (await TestCluster.GetJobAsync(node, id) is { } job)
                    {
                        jobs.Add(job);
                    }
                }

                return jobs.Count == ids.Count && jobs.All(j => j.Status == status);
            },
            $"{ids.Count} job(s) to be {status}",
            Timeout);
        return jobs;
    }
}
