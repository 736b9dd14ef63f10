using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Flotilla.Api.Nodes;

namespace Flotilla.Api.Tests;

/// <summary>
/// Single <c>POST /jobs</c> requests that arrive while others are in flight reach the leader
/// together (<c>POST /cluster/submit</c>), and each client still gets its own answer and keeps
/// its own trace.
/// </summary>
public sealed class SubmitCoalescingTests : IDisposable
{
    private const int Clients = 40;
    private readonly FakeNodes _nodes = new();
    private readonly ApiFactory _factory;
    private readonly HttpClient _api;
    private readonly ManualResetEventSlim _leaderBusy = new(true);

    public SubmitCoalescingTests()
    {
        // A leader that takes every job as j<payload>, but refuses payload 13 (a taken idempotency key, say).
        _nodes.Handle = r => r.Path switch
        {
            "cluster/health" => FakeNodes.Health(true, "http://127.0.0.1:5102"),
            "workflows" => FakeNodes.Json(HttpStatusCode.OK, FakeNodes.Workflows("echo")),
            "cluster/submit" => AnswerWhenFree(r),
            _ => FakeNodes.Json(HttpStatusCode.NotFound, new { title = "No such thing.", status = 404 }),
        };
        _factory = new ApiFactory(_nodes);
        _api = _factory.CreateClient();
    }

    [Fact]
    public async Task SubmitsArrivingWhileOthersAreInFlightShareARequestAndEachGetsItsOwnAnswer()
    {
        _leaderBusy.Reset();
        var posts = Enumerable.Range(0, Clients).Select(n => _api.PostAsJsonAsync("/jobs", new { workflow = "echo", payload = n })).ToArray();
        await WaitUntilAsync(() => _nodes.To("cluster/submit").Any());
        await Task.Delay(300); // the others queue behind the held requests
        _leaderBusy.Set();
        var responses = await Task.WhenAll(posts);

        for (var n = 0; n < Clients; n++)
        {
            using var response = responses[n];
            if (n == 13)
            {
                Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
                Assert.Equal("key taken", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
                continue;
            }

            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal($"/jobs/j{n}", response.Headers.Location?.ToString());
            Assert.Equal($"j{n}", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("job_id").GetString());
        }

        var sent = _nodes.SubmittedJobs();
        Assert.Equal(Enumerable.Range(0, Clients).Select(n => $$"""{"workflow":"echo","payload":{{n}}}"""), sent.Select(s => s.Job).Order(StringComparer.Ordinal).OrderBy(j => j.Length));
        Assert.True(_nodes.To("cluster/submit").Count() < Clients, $"{Clients} submits took {_nodes.To("cluster/submit").Count()} requests");
    }

    [Fact]
    public async Task ARequestInFlightLongerThanASlowSendDoesNotHoldBackTheNextSubmitsUpToFourRequests()
    {
        // A leader whose commits take long (a slow disk): every request is held until released.
        _leaderBusy.Reset();
        var posts = new List<Task<HttpResponseMessage>>();
        for (var n = 0; n < 8; n++)
        {
            posts.Add(_api.PostAsJsonAsync("/jobs", new { workflow = "echo", payload = n }));
            if (n < 4)
            {
                await WaitUntilAsync(() => _nodes.SubmittedJobs().Count > n, TimeSpan.FromSeconds(2)); // the leader holds the others 10 s
            }

            await Task.Delay(SubmitCoalescer.SlowSend * 2);
        }

        // The first four went each in a request of its own, none waiting for the one before it
        // to be answered; the other four wait for a sender (no more than four requests at once).
        await Task.Delay(300);
        Assert.Equal(4, _nodes.To("cluster/submit").Count());
        Assert.Equal(4, _nodes.SubmittedJobs().Count);

        _leaderBusy.Set();
        var responses = await Task.WhenAll(posts);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        Assert.Equal(Enumerable.Range(0, 8).Select(n => $$"""{"workflow":"echo","payload":{{n}}}"""), _nodes.SubmittedJobs().Select(s => s.Job).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task EachJobCarriesItsClientsTrace()
    {
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        var traces = new[] { ActivityTraceId.CreateRandom(), ActivityTraceId.CreateRandom() };

        var responses = await Task.WhenAll(traces.Select((trace, n) =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/jobs") { Content = JsonContent.Create(new { workflow = "echo", payload = n }) };
            request.Headers.Add("traceparent", $"00-{trace}-{ActivitySpanId.CreateRandom()}-01");
            return _api.SendAsync(request);
        }));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        var sent = _nodes.SubmittedJobs();
        for (var n = 0; n < traces.Length; n++)
        {
            var item = Assert.Single(sent, s => s.Job.EndsWith($":{n}}}", StringComparison.Ordinal));
            Assert.NotNull(item.TraceParent);
            Assert.Equal(traces[n], ActivityContext.Parse(item.TraceParent, null).TraceId);
        }
    }

    public void Dispose()
    {
        _leaderBusy.Set();
        _api.Dispose();
        _factory.Dispose();
        _leaderBusy.Dispose();
    }

    private HttpResponseMessage AnswerWhenFree(FakeNodes.Recorded request)
    {
        _leaderBusy.Wait(TimeSpan.FromSeconds(10));
        return FakeNodes.SubmitEach(request, job => job.GetProperty("payload").GetInt32() is var n && n == 13
            ? (HttpStatusCode.Conflict, new { title = "The cluster rejected the request.", status = 409, detail = "key taken" })
            : (HttpStatusCode.Accepted, FakeNodes.Job($"j{n}")));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(10));
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), "not within the time allowed");
    }
}
