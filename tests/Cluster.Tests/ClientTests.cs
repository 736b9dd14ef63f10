using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using Flotilla.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// The typed client (<see cref="FlotillaClient"/>) against the real Api in front of three real
/// nodes with their workers on; and the routes it relies on (<c>wait_ms</c>, <c>/new-job</c>).
/// </summary>
[Collection(ApiCluster.Collection)]
public sealed class ClientTests(ApiCluster fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster = fixture.Cluster;
    private readonly ApiProcess _api = fixture.Api;
    private readonly FlotillaClient _client = fixture.Client;

    [Fact]
    public async Task EnqueueThenWaitReturnsTheCompletedJobWithItsResult()
    {
        var job = await _client.EnqueueAsync("echo", new { order_id = 42 });
        Assert.Equal(JobStatus.Pending, job.Status);

        var done = await _client.WaitAsync(job.JobId, Timeout);

        Assert.Equal(JobStatus.Completed, done.Status);
        Assert.Equal(42, done.Result!.Value.GetProperty("payload").GetProperty("order_id").GetInt32());
        Assert.Contains(done.CompletedBy, _cluster.Nodes.Select(n => n.NodeId));
        Assert.Equal(1, done.Attempts);
    }

    [Fact]
    public async Task WaitReturnsAFailedJobWithItsError()
    {
        var job = await _client.EnqueueAsync("fail", null, new EnqueueOptions { MaxAttempts = 1 });

        var done = await _client.WaitAsync(job.JobId, Timeout);

        Assert.Equal(JobStatus.Failed, done.Status);
        Assert.False(string.IsNullOrEmpty(done.Error));
    }

    [Fact]
    public async Task WaitGivesUpWithATimeoutWhileTheJobIsNotDue()
    {
        var job = await _client.EnqueueAsync("echo", 1, new EnqueueOptions { Delay = TimeSpan.FromHours(1) });

        var error = await Assert.ThrowsAsync<TimeoutException>(() => _client.WaitAsync(job.JobId, TimeSpan.FromMilliseconds(300)));

        Assert.Contains("pending", error.Message);
    }

    [Fact]
    public async Task ANodeHoldsAWaitUntilTheJobFinishesAndAnswersWithTheFinishedJob()
    {
        var node = _cluster.Nodes[2];
        var job = await TestCluster.SubmitAsync(node, new { workflow = "sleep", payload = new { ms = 1500 } });

        // One request, sent while the job is pending or running, comes back with it completed.
        var answered = await node.Http.GetFromJsonAsync<Job>($"jobs/{job.JobId}?wait_ms=30000", FlotillaJson.Options);
        var received = DateTimeOffset.UtcNow;

        Assert.Equal(JobStatus.Completed, answered!.Status);

        // Not asserted (tests do not time things): from the leader stamping the completion to the answer here.
        output.WriteLine($"{node.NodeId}: answered {(received - answered.UpdatedAt).TotalMilliseconds:0} ms after the completion was stamped");
    }

    [Fact]
    public async Task TheApiHoldsAWaitUntilTheJobFinishes()
    {
        var job = await _client.EnqueueAsync("sleep", new { ms = 1500 });

        var answered = await _api.Http.GetFromJsonAsync<Job>($"jobs/{job.JobId}?wait_ms=30000", FlotillaJson.Options);
        var received = DateTimeOffset.UtcNow;

        Assert.Equal(JobStatus.Completed, answered!.Status);
        output.WriteLine($"Api (reads the leader): answered {(received - answered.UpdatedAt).TotalMilliseconds:0} ms after the completion was stamped");
    }

    [Fact]
    public async Task AWaitOnAJobThatDoesNotFinishAnswersWithItsStateAfterTheWait()
    {
        var job = await _client.EnqueueAsync("echo", 1, new EnqueueOptions { Delay = TimeSpan.FromHours(1) });
        var clock = Stopwatch.StartNew();

        foreach (var http in new[] { _cluster.Nodes[0].Http, _api.Http })
        {
            clock.Restart();
            var answered = await http.GetFromJsonAsync<Job>($"jobs/{job.JobId}?wait_ms=700", FlotillaJson.Options);

            Assert.Equal(JobStatus.Pending, answered!.Status);
            Assert.True(clock.ElapsedMilliseconds >= 650, $"answered after {clock.ElapsedMilliseconds} ms, before the wait was over");
        }
    }

    [Theory]
    [InlineData("jobs/x?wait_ms=60001")]
    [InlineData("jobs/x?wait_ms=-1")]
    public async Task AWaitLongerThanAMinuteIsRefused(string path)
    {
        foreach (var http in new[] { _cluster.Nodes[0].Http, _api.Http })
        {
            using var response = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
    }

    [Fact]
    public async Task ListFollowsPagesInJobIdOrder()
    {
        var queue = "list-" + Guid.NewGuid().ToString("N")[..8];
        var later = new EnqueueOptions { Queue = queue, Delay = TimeSpan.FromHours(1) };
        var submitted = await _client.EnqueueBatchAsync("echo", Enumerable.Range(0, 7).Select(i => (object?)new { i }), later);

        var listed = new List<Job>();
        await foreach (var job in _client.ListAsync(JobStatus.Pending, queue, pageSize: 3))
        {
            listed.Add(job);
        }

        Assert.Equal(submitted.Select(j => j.JobId).Order(StringComparer.Ordinal), listed.Select(j => j.JobId));
    }

    [Fact]
    public async Task CancelStopsAPendingJobAndRefusesAFinishedOne()
    {
        var job = await _client.EnqueueAsync("echo", 1, new EnqueueOptions { Delay = TimeSpan.FromHours(1) });

        var cancelled = await _client.CancelAsync(job.JobId);
        var again = await Assert.ThrowsAsync<FlotillaException>(() => _client.CancelAsync(job.JobId));

        Assert.Equal(JobStatus.Cancelled, cancelled.Status);
        Assert.Equal(JobStatus.Cancelled, (await _client.WaitAsync(job.JobId, Timeout)).Status);
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Null(await _client.GetAsync("0190c0de-0000-7000-8000-000000000000"));
    }

    [Fact]
    public async Task ARegisteredWorkflowRunsJobs()
    {
        await using var module = File.OpenRead(NodeBinary.BuiltinModule("echo"));
        var registered = await _client.RegisterWorkflowAsync("echo-copy", module);
        Assert.Equal("echo-copy", registered.Name);
        Assert.Equal(64, registered.Sha256.Length);

        var job = await _client.EnqueueAsync("echo-copy", new { copy = true });

        Assert.Equal(JobStatus.Completed, (await _client.WaitAsync(job.JobId, Timeout)).Status);
        Assert.Contains(await _client.ListWorkflowsAsync(), w => w.Name == "echo-copy");
    }

    [Fact]
    public async Task ADurableJobsJournalIsReadThroughTheApi()
    {
        await using var module = File.OpenRead(Path.Combine(AppContext.BaseDirectory, "Sdk", "lucky.wasm"));
        await _client.RegisterWorkflowAsync("lucky-journal", module);
        var job = await _client.EnqueueAsync("lucky-journal", new { sleep_ms = 1 });
        Assert.Equal(JobStatus.Completed, (await _client.WaitAsync(job.JobId, Timeout)).Status);

        var journal = await _client.GetJournalAsync(job.JobId);

        Assert.Equal(job.JobId, journal!.JobId);
        Assert.Equal(["random_bytes", "now_ms", "clock_time_get", "sleep_ms"], journal.Entries.Select(e => e.Kind));
        Assert.Equal(["random_bytes 8", "now_ms", "clock_time_get realtime", "sleep_ms 1"], journal.Entries.Select(e => e.Request));
        Assert.All(journal.Entries, e => Assert.Equal(("done", 1), (e.State, e.Attempt)));
        Assert.InRange(journal.Entries[0].At, job.CreatedAt.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Null(await _client.GetJournalAsync("0190c0de-0000-7000-8000-000000000000"));
    }

    [Fact]
    public async Task AnIdempotencyKeyMakesTheSecondSubmissionTheFirstJobAndAnotherBodyA409()
    {
        var options = new EnqueueOptions { IdempotencyKey = "order-" + Guid.NewGuid() };

        var first = await _client.EnqueueAsync("echo", 1, options);
        var second = await _client.EnqueueAsync("echo", 1, options);
        var other = await Assert.ThrowsAsync<FlotillaException>(() => _client.EnqueueAsync("echo", 2, options));

        Assert.Equal(first.JobId, second.JobId);
        Assert.Equal(HttpStatusCode.Conflict, other.Status);
    }

    [Fact]
    public async Task TheServersRefusalArrivesAsOneExceptionWithItsProblemDetails()
    {
        var refused = await Assert.ThrowsAsync<FlotillaException>(() => _client.EnqueueAsync("no-such-workflow", 1));

        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Contains("unknown workflow", refused.Errors["workflow"][0]);
    }

    [Fact]
    public async Task AddFlotillaClientFindsTheApiThroughServiceDiscovery()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["services:api:http:0"] = _api.Url.ToString() })
            .Build());
        services.AddServiceDiscovery();
        services.ConfigureHttpClientDefaults(http => http.AddServiceDiscovery());
        services.AddFlotillaClient("https+http://api");
        await using var provider = services.BuildServiceProvider();

        var health = await provider.GetRequiredService<FlotillaClient>().GetClusterHealthAsync();

        Assert.True(health.HasLeader);
        Assert.Equal(3, health.NodeCount);
    }

    /// <summary>What <c>curl -X POST http://host/new-job -d "url=test-job.com"</c> sends, to every node and the Api.</summary>
    [Fact]
    public async Task TheReplacedSystemsCurlIsAcceptedByNodesAndTheApi()
    {
        foreach (var http in _cluster.Nodes.Select(n => n.Http).Append(_api.Http))
        {
            using var curl = new StringContent("url=test-job.com", Encoding.ASCII, "application/x-www-form-urlencoded");
            using var response = await http.PostAsync("new-job", curl);

            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var job = (await response.Content.ReadFromJsonAsync<Job>(FlotillaJson.Options))!;
            Assert.Equal("test-job.com", job.Payload.GetProperty("url").GetString());
            Assert.Equal(job.JobId, job.Payload.GetProperty("id").GetString());
            Assert.Equal(JobRules.DefaultWorkflow, job.Workflow);
        }
    }

    [Theory]
    [InlineData("url=")]
    [InlineData("url=a%0Ab")]
    [InlineData("other=x")]
    public async Task NodesAndTheApiStillRefuseAReallyBadUrl(string form)
    {
        foreach (var http in _cluster.Nodes.Select(n => n.Http).Append(_api.Http))
        {
            using var content = new StringContent(form, Encoding.ASCII, "application/x-www-form-urlencoded");
            using var response = await http.PostAsync("new-job", content);

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }
}
