using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Flotilla.Client;

namespace Flotilla.Cluster.Tests;

public sealed class FormationAndReplicationTests(SharedCluster shared) : IClassFixture<SharedCluster>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly TestCluster _cluster = shared.Cluster;

    [Fact]
    public async Task ThreeNodesFormOneClusterAndAgreeOnTheLeader()
    {
        var healths = await Task.WhenAll(_cluster.Nodes.Select(n => n.TryGetHealthAsync()));

        Assert.All(healths, h =>
        {
            Assert.NotNull(h);
            Assert.True(h.IsHealthy);
            Assert.Equal(3, h.NodeCount);
            Assert.True(h.HasLeader);
        });
        Assert.Single(healths.Select(h => h!.Leader).Distinct());
        Assert.Equal(["node1", "node2", "node3"], healths.Select(h => h!.NodeId).Order());
    }

    [Fact]
    public async Task NodesStartedFromAnotherFolderLogAtTheirConfiguredLevels()
    {
        // The test processes run the nodes from the test's folder, not the node's: settings
        // must still come from the node's own appsettings.json, and nothing may switch Debug
        // and Trace on for every category (a line per entry, per Raft round, per request).
        var follower = await FollowerAsync();
        var job = await TestCluster.SubmitAsync(follower, new { workflow = "echo", payload = "quiet" });
        foreach (var node in _cluster.Nodes)
        {
            await _cluster.WaitForAsync(async () => await TestCluster.GetJobAsync(node, job.JobId) is not null, $"{job.JobId} on {node.NodeId}", Timeout);
        }

        Assert.All(_cluster.Nodes, node =>
        {
            var output = node.RecentOutput();
            Assert.DoesNotContain("dbug: ", output, StringComparison.Ordinal);
            Assert.DoesNotContain("trce: ", output, StringComparison.Ordinal);
            Assert.DoesNotContain("Request starting", output, StringComparison.Ordinal);
            Assert.Contains("info: ", output, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task AFollowerTakesJobsForAWorkflowRegisteredAfterItRefusedTheName()
    {
        // The follower keeps the names it knows between requests: a registration must still
        // show at once, even right after the name was refused there.
        var follower = await FollowerAsync();
        var leader = _cluster[await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout)];
        var name = "fresh-" + Guid.NewGuid().ToString("N")[..8];
        using (var refused = await follower.Http.PostAsJsonAsync("jobs", new { workflow = name, payload = 1 }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        using var module = new ByteArrayContent(await File.ReadAllBytesAsync(NodeBinary.BuiltinModule("echo")));
        module.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/wasm");
        using (var registered = await leader.Http.PutAsync($"workflows/{name}", module))
        {
            Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync());
        }

        using var accepted = await follower.Http.PostAsJsonAsync("jobs", new { workflow = name, payload = 2 });
        Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AJobSubmittedToAFollowerIsVisibleOnEveryNode()
    {
        var follower = await FollowerAsync();

        var job = await TestCluster.SubmitAsync(follower, new { workflow = "echo", payload = new { hello = "world" } });

        Assert.Equal(JobStatus.Pending, job.Status);
        foreach (var node in _cluster.Nodes)
        {
            await _cluster.WaitForAsync(async () => await TestCluster.GetJobAsync(node, job.JobId) is not null, $"{job.JobId} on {node.NodeId}", Timeout);
            var seen = await TestCluster.GetJobAsync(node, job.JobId);
            Assert.Equal("world", seen!.Payload.GetProperty("hello").GetString());
        }
    }

    [Fact]
    public async Task AStrongReadOnAFollowerSeesTheWriteItFollows()
    {
        var follower = await FollowerAsync();
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[0], new { workflow = "echo", payload = 1 });

        using var response = await follower.Http.GetAsync($"jobs/{job.JobId}?consistency=strong");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ABatchIsAcceptedWholeInOneCommit()
    {
        var follower = await FollowerAsync();
        var before = (await follower.GetStateAsync()).AppliedIndex;
        var jobs = Enumerable.Range(0, 200).Select(i => new { workflow = "echo", payload = new { i } }).ToArray();

        using var response = await follower.Http.PostAsJsonAsync("jobs/batch", jobs, FlotillaJson.Options);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<List<Job>>(FlotillaJson.Options);
        Assert.Equal(200, accepted!.Count);
        Assert.Equal(200, accepted.Select(j => j.JobId).Distinct().Count());
        var after = (await follower.GetStateAsync()).AppliedIndex;
        Assert.InRange(after - before, 1, 3); // one entry for the batch (plus at most unrelated ones)
    }

    [Fact]
    public async Task AnIdempotencyKeyYieldsTheSameJobOnRepeatAtAnyNodeAndRefusesAnotherBody()
    {
        var key = "order-" + Guid.NewGuid();
        var first = await TestCluster.SubmitAsync(_cluster.Nodes[1], new { workflow = "echo", payload = 1, idempotency_key = key });
        var second = await TestCluster.SubmitAsync(_cluster.Nodes[2], new { workflow = "echo", payload = 1, idempotency_key = key });
        using var other = await _cluster.Nodes[0].Http.PostAsJsonAsync("jobs", new { workflow = "echo", payload = 2, idempotency_key = key });

        Assert.Equal(first.JobId, second.JobId);
        Assert.Equal(1, second.Payload.GetInt32());
        Assert.Equal(HttpStatusCode.Conflict, other.StatusCode);
    }

    [Fact]
    public async Task NewJobTakesAUrlFormAndUsesTheEchoWorkflow()
    {
        using var response = await _cluster.Nodes[1].Http.PostAsync(
            "new-job", new FormUrlEncodedContent(new Dictionary<string, string> { ["url"] = "https://example.org/a" }));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await response.Content.ReadFromJsonAsync<Job>(FlotillaJson.Options);
        Assert.Equal("echo", job!.Workflow);
        Assert.Equal(job.JobId, job.Payload.GetProperty("id").GetString());
        Assert.Equal("https://example.org/a", job.Payload.GetProperty("url").GetString());
        Assert.NotNull(response.Headers.Location);
    }

    [Fact]
    public async Task CancelStopsAPendingJobAndRefusesAFinishedOne()
    {
        var job = await TestCluster.SubmitAsync(_cluster.Nodes[2], new { workflow = "echo", payload = 1, delay_ms = 3_600_000 });

        using var cancelled = await _cluster.Nodes[1].Http.PostAsync($"jobs/{job.JobId}/cancel", null);
        using var again = await _cluster.Nodes[0].Http.PostAsync($"jobs/{job.JobId}/cancel", null);
        using var unknown = await _cluster.Nodes[0].Http.PostAsync($"jobs/{Guid.NewGuid()}/cancel", null);

        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        Assert.Equal(JobStatus.Cancelled, (await cancelled.Content.ReadFromJsonAsync<Job>(FlotillaJson.Options))!.Status);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Theory]
    [InlineData("""{"payload": 1}""", "workflow")]
    [InlineData("""{"workflow": "bad name!"}""", "workflow")]
    [InlineData("""{"workflow": "echo", "priority": 5000}""", "priority")]
    [InlineData("""{"workflow": "echo", "max_attempts": 0}""", "max_attempts")]
    [InlineData("""{"workflow": "echo", "delay_ms": -5}""", "delay_ms")]
    [InlineData("""{"workflow": "echo", "delay_ms": 5, "run_at": "2030-01-01T00:00:00Z"}""", "run_at")]
    [InlineData("""{"workflow": "echo", "max_attempt": 3}""", "max_attempt")]
    [InlineData("""{"workflow": "echo", """, "")]
    [InlineData("""[1, 2]""", "")]
    public async Task BadInputGetsAProblemAndWritesNothing(string body, string mentions)
    {
        var node = _cluster.Nodes[1];
        var before = await _cluster.WaitForIdenticalStoresAsync(Timeout);

        using var response = await node.Http.PostAsync("jobs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadAsStringAsync();
        Assert.Contains(mentions, problem);
        await Task.Delay(300);
        Assert.Equal(before.Checksum, (await node.GetStateAsync()).Checksum);
    }

    [Fact]
    public async Task ABatchWithOneBadJobIsRefusedWhole()
    {
        var node = _cluster.Nodes[2];
        var before = await _cluster.WaitForIdenticalStoresAsync(Timeout);
        var body = """[{"workflow": "echo"}, {"workflow": "echo", "priority": 99999}]""";

        using var response = await node.Http.PostAsync("jobs/batch", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("[1].priority", await response.Content.ReadAsStringAsync());
        await Task.Delay(300);
        Assert.Equal(before.Checksum, (await node.GetStateAsync()).Checksum);
    }

    [Fact]
    public async Task ListingPagesThroughJobsByStatus()
    {
        var node = _cluster.Nodes[0];
        var queue = "q" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 5; i++)
        {
            await TestCluster.SubmitAsync(node, new { workflow = "echo", payload = i, queue, delay_ms = 3_600_000 });
        }

        var first = await node.Http.GetFromJsonAsync<JobPage>($"jobs?queue={queue}&status=pending&limit=3", FlotillaJson.Options);
        var second = await node.Http.GetFromJsonAsync<JobPage>($"jobs?queue={queue}&status=pending&limit=3&after={first!.NextAfter}", FlotillaJson.Options);
        using var bad = await node.Http.GetAsync("jobs?status=sleeping");

        Assert.Equal(3, first.Jobs.Count);
        Assert.Equal(2, second!.Jobs.Count);
        Assert.Empty(first.Jobs.Select(j => j.JobId).Intersect(second.Jobs.Select(j => j.JobId)));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task UnknownJobIsANotFoundProblem()
    {
        using var response = await _cluster.Nodes[0].Http.GetAsync($"jobs/{Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(404, problem.GetProperty("status").GetInt32());
    }

    private async Task<NodeProcess> FollowerAsync()
    {
        var leader = await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
        return _cluster.Nodes.First(n => n.NodeId != leader);
    }
}
