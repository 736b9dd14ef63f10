using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Flotilla.Api.Tests;

public sealed class ApiEndpointTests : IDisposable
{
    private readonly FakeNodes _nodes = new();
    private readonly ApiFactory _factory;
    private readonly HttpClient _api;

    public ApiEndpointTests()
    {
        // A cluster whose leader (node2) publishes its URL and knows echo and fail.
        _nodes.Handle = r => r.Path switch
        {
            "cluster/health" => FakeNodes.Health(true, "http://127.0.0.1:5102"),
            "workflows" => FakeNodes.Json(HttpStatusCode.OK, FakeNodes.Workflows("echo", "fail")),
            "cluster/submit" => FakeNodes.AcceptEach(r),
            "jobs/batch" => FakeNodes.Json(HttpStatusCode.Accepted, new[] { FakeNodes.Job("j1"), FakeNodes.Job("j2") }, "/jobs"),
            "jobs/j1" or "jobs/j1?consistency=strong" => FakeNodes.Json(HttpStatusCode.OK, FakeNodes.Job("j1")),
            "jobs/j1/journal" => FakeNodes.Json(HttpStatusCode.OK, new
            {
                job_id = "j1",
                entries = new[] { new { seq = 1, kind = "http", request = "http POST https://a/x", state = "intent", at = DateTimeOffset.UnixEpoch, attempt = 1 } },
            }),
            _ => FakeNodes.Json(HttpStatusCode.NotFound, new { title = "No such job.", status = 404 }),
        };
        _factory = new ApiFactory(_nodes);
        _api = _factory.CreateClient();
    }

    [Fact]
    public async Task AJobIsAcceptedWithItsLocationAndTheClientsBytesReachTheLeader()
    {
        const string body = """{"workflow":"echo","payload":{"hi":1},"priority":5}""";

        using var response = await _api.PostAsync("/jobs", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("/jobs/j1", response.Headers.Location?.ToString());
        var job = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("j1", job.GetProperty("job_id").GetString());
        var sent = Assert.Single(_nodes.SubmittedJobs());
        Assert.Equal(5102, sent.Port);
        Assert.Equal(body, sent.Job);
    }

    [Fact]
    public async Task AJobsJournalComesFromANodeAndAnUnknownJobIsA404()
    {
        using var response = await _api.GetAsync("/jobs/j1/journal");
        using var unknown = await _api.GetAsync("/jobs/j9/journal");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var entry = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("entries")[0];
        Assert.Equal("http POST https://a/x", entry.GetProperty("request").GetString());
        Assert.Equal("intent", entry.GetProperty("state").GetString());
        Assert.Single(_nodes.To("jobs/j1/journal"));
        await ProblemAssert.IsProblemAsync(unknown, HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("""{"workflow":"echo","max_attempt":3}""")]
    [InlineData("""{"workflow":"echo",""")]
    [InlineData("")]
    public async Task AMalformedBodyIsA400ProblemAndReachesNoNode(string body)
    {
        using var response = await _api.PostAsync("/jobs", new StringContent(body, Encoding.UTF8, "application/json"));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Empty(_nodes.SubmittedJobs());
    }

    [Fact]
    public async Task AnUnknownWorkflowIsAValidationProblem()
    {
        using var response = await _api.PostAsJsonAsync("/jobs", new { workflow = "nope", payload = 1 });

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("unknown workflow 'nope'.", problem.GetProperty("errors").GetProperty("workflow")[0].GetString());
        Assert.Empty(_nodes.SubmittedJobs());
    }

    [Fact]
    public async Task WithoutAWorkflowListTheNodeDecides()
    {
        var inner = _nodes.Handle;
        _nodes.Handle = r => r.Path == "workflows" ? new HttpResponseMessage(HttpStatusCode.NotFound) : inner(r);

        using var response = await _api.PostAsJsonAsync("/jobs", new { workflow = "anything", payload = 1 });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task ABadBatchNamesTheIndexAndNothingIsSent()
    {
        using var response = await _api.PostAsJsonAsync("/jobs/batch", new object[]
        {
            new { workflow = "echo", payload = 1 },
            new { workflow = "echo", payload = 2, priority = 5000 },
            new { workflow = "gone", payload = 3 },
        });

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("[1].priority", out _));
        Assert.True(errors.TryGetProperty("[2].workflow", out _));
        Assert.Empty(_nodes.To("jobs/batch"));
    }

    [Fact]
    public async Task ABatchIsAccepted()
    {
        using var response = await _api.PostAsJsonAsync("/jobs/batch", new[] { new { workflow = "echo", payload = 1 }, new { workflow = "fail", payload = 2 } });

        // The node's answer goes on as it came: its jobs, its Location, as JSON.
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("/jobs", response.Headers.Location?.ToString());
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var jobs = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["j1", "j2"], jobs.EnumerateArray().Select(j => j.GetProperty("job_id").GetString()));
    }

    [Fact]
    public async Task AnEmptyBatchIsA400()
    {
        using var response = await _api.PostAsJsonAsync("/jobs/batch", Array.Empty<object>());

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task ABodyFarOverTheLimitIsA413()
    {
        var payload = new string('x', 2 * 1024 * 1024);

        using var response = await _api.PostAsJsonAsync("/jobs", new { workflow = "echo", payload });

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task ANodesOwnValidationProblemIsPassedOn()
    {
        _nodes.Handle = r => r.Path switch
        {
            "cluster/submit" => FakeNodes.SubmitEach(r, _ => (HttpStatusCode.BadRequest, new { title = "The job is not valid.", status = 400, errors = new Dictionary<string, string[]> { ["payload"] = ["rule only the node knows"] } })),
            _ => FakeNodes.Health(true, null),
        };

        using var response = await _api.PostAsJsonAsync("/jobs", new { workflow = "echo", payload = 1 });

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("rule only the node knows", problem.GetProperty("errors").GetProperty("payload")[0].GetString());
    }

    [Fact]
    public async Task ACluster503OutlastingTheRetriesIsA503WithRetryAfter()
    {
        _nodes.Handle = r => r.Path == "cluster/health" ? FakeNodes.Health(false, null) : FakeNodes.Unavailable();

        using var response = await _api.PostAsJsonAsync("/jobs", new { workflow = "echo", payload = 1 });

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task NoReachableNodeIsA503Problem()
    {
        _nodes.Handle = _ => throw FakeNodes.Refused();

        using var response = await _api.GetAsync("/jobs/j1");

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable);
    }

    [Fact]
    public async Task AJobIsReadAndAMissingOneIsA404Problem()
    {
        using var found = await _api.GetAsync("/jobs/j1?consistency=strong");
        using var missing = await _api.GetAsync("/jobs/j9");

        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        Assert.Contains(_nodes.Requests, r => r.Path == "jobs/j1?consistency=strong");
        await ProblemAssert.IsProblemAsync(missing, HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("/jobs?status=done")]
    [InlineData("/jobs?limit=0")]
    [InlineData("/jobs?limit=1001")]
    public async Task BadListParametersAreValidationProblems(string url)
    {
        using var response = await _api.GetAsync(url);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("test-job.com\nX-Injected: 1")]
    [InlineData("bell\u0007")]
    public async Task NewJobRefusesAnEmptyUrlOrControlCharacters(string url)
    {
        using var response = await _api.PostAsync("/new-job", new FormUrlEncodedContent(new Dictionary<string, string> { ["url"] = url }));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("url", out _));
        Assert.Empty(_nodes.To("new-job"));
    }

    [Fact]
    public async Task NewJobRefusesAUrlOverTwoKibibytes()
    {
        using var response = await _api.PostAsync("/new-job", new FormUrlEncodedContent(new Dictionary<string, string> { ["url"] = "h" + new string('x', 2048) }));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("2048", problem.GetProperty("errors").GetProperty("url")[0].GetString());
    }

    [Theory]
    [InlineData("test-job.com")]
    [InlineData("ftp://x")]
    [InlineData("https://example.org/a?b=c")]
    public async Task NewJobTakesWhatTheReplacedSystemTook(string url)
    {
        var inner = _nodes.Handle;
        _nodes.Handle = r => r.Path == "new-job" ? FakeNodes.Json(HttpStatusCode.Accepted, FakeNodes.Job("j1"), "/jobs/j1") : inner(r);

        using var response = await _api.PostAsync("/new-job", new FormUrlEncodedContent(new Dictionary<string, string> { ["url"] = url }));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("url=" + Uri.EscapeDataString(url), Assert.Single(_nodes.To("new-job")).Text);
    }

    [Fact]
    public async Task NewJobForwardsTheUrlAsAForm()
    {
        var inner = _nodes.Handle;
        _nodes.Handle = r => r.Path == "new-job" ? FakeNodes.Json(HttpStatusCode.Accepted, FakeNodes.Job("j1"), "/jobs/j1") : inner(r);

        using var response = await _api.PostAsync("/new-job", new FormUrlEncodedContent(new Dictionary<string, string> { ["url"] = "https://example.org/a?b=c" }));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var sent = Assert.Single(_nodes.To("new-job"));
        Assert.Equal("url=" + Uri.EscapeDataString("https://example.org/a?b=c"), sent.Text);
    }

    [Fact]
    public async Task AWorkflowMustBeWasm()
    {
        using var wrongType = await _api.PutAsync("/workflows/mine", new ByteArrayContent([0, 0x61, 0x73, 0x6D]));
        using var notWasm = await _api.PutAsync("/workflows/mine", Wasm([1, 2, 3, 4]));
        using var badName = await _api.PutAsync("/workflows/no%20spaces", Wasm([0, 0x61, 0x73, 0x6D]));

        await ProblemAssert.IsProblemAsync(wrongType, HttpStatusCode.UnsupportedMediaType);
        await ProblemAssert.IsProblemAsync(notWasm, HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblemAsync(badName, HttpStatusCode.BadRequest);
        Assert.DoesNotContain(_nodes.Requests, r => r.Method == "PUT");
    }

    [Fact]
    public async Task ARegisteredWorkflowIsKnownAtOnce()
    {
        var registered = FakeNodes.Workflows("echo");
        _nodes.Handle = r => r.Path switch
        {
            "workflows/mine" => FakeNodes.Json(HttpStatusCode.Created, new { name = "mine", sha256 = new string('b', 64), registered_at = DateTimeOffset.UnixEpoch, size = 8 }, "/workflows/mine"),
            "workflows" => FakeNodes.Json(HttpStatusCode.OK, registered),
            "cluster/submit" => FakeNodes.AcceptEach(r, "mine"),
            _ => FakeNodes.Health(true, null),
        };
        using (var before = await _api.PostAsJsonAsync("/jobs", new { workflow = "mine" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, before.StatusCode);
        }

        using var put = await _api.PutAsync("/workflows/mine", Wasm([0, 0x61, 0x73, 0x6D, 1, 0, 0, 0]));
        registered = FakeNodes.Workflows("echo", "mine");
        using var after = await _api.PostAsJsonAsync("/jobs", new { workflow = "mine" });

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var view = await put.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(8, view.GetProperty("size").GetInt32());
        Assert.Equal("application/wasm", _nodes.To("workflows/mine").Single().ContentType);
        Assert.Equal(HttpStatusCode.Accepted, after.StatusCode);
    }

    [Fact]
    public async Task ANodeWithoutWorkflowsRouteGivesA404ProblemForTheList()
    {
        _nodes.Handle = _ => new HttpResponseMessage(HttpStatusCode.NotFound);

        using var response = await _api.GetAsync("/workflows");

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ClusterHealthPassesOnTheLeaderUrl()
    {
        var health = await _api.GetFromJsonAsync<JsonElement>("/cluster/health");

        Assert.Equal("http://127.0.0.1:5102", health.GetProperty("leader_url").GetString());
        Assert.True(health.GetProperty("has_leader").GetBoolean());
    }

    [Fact]
    public async Task HealthWaitsForALeader()
    {
        using var healthy = await _api.GetAsync("/health");
        _nodes.Handle = _ => FakeNodes.Health(false, null);
        using var unhealthy = await _api.GetAsync("/health");
        using var alive = await _api.GetAsync("/alive");

        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unhealthy.StatusCode);
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }

    [Fact]
    public async Task TheOpenApiDocumentAndItsBrowsablePageAreServed()
    {
        var document = await _api.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        using var page = await _api.GetAsync("/scalar");

        var paths = document.GetProperty("paths");
        foreach (var path in new[] { "/jobs", "/jobs/batch", "/new-job", "/jobs/{id}", "/jobs/{id}/cancel", "/workflows/{name}", "/workflows", "/cluster/health" })
        {
            Assert.True(paths.TryGetProperty(path, out _), path);
        }

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    [Fact]
    public async Task AWaitIsPassedToTheNodeAndBounded()
    {
        var inner = _nodes.Handle;
        _nodes.Handle = r => r.Path == "jobs/j1?wait_ms=1500" ? FakeNodes.Json(HttpStatusCode.OK, FakeNodes.Job("j1")) : inner(r);

        using var waited = await _api.GetAsync("/jobs/j1?wait_ms=1500");
        using var tooLong = await _api.GetAsync("/jobs/j1?wait_ms=60001");

        Assert.Equal(HttpStatusCode.OK, waited.StatusCode);
        Assert.Single(_nodes.To("jobs/j1?wait_ms=1500"));
        var problem = await ProblemAssert.IsProblemAsync(tooLong, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("wait_ms", out _));
    }

    [Fact]
    public async Task CountsComeFromANode()
    {
        var inner = _nodes.Handle;
        _nodes.Handle = r => r.Path == "jobs/counts" ? FakeNodes.Json(HttpStatusCode.OK, new { pending = 1, running = 2, completed = 3, failed = 4, cancelled = 5 }) : inner(r);

        var counts = await _api.GetFromJsonAsync<JsonElement>("/jobs/counts");

        Assert.Equal(3, counts.GetProperty("completed").GetInt32());
        Assert.Equal(5, counts.GetProperty("cancelled").GetInt32());
    }

    [Fact]
    public async Task EachNodesHealthIsShownAndAnUnreachableNodeSaysSo()
    {
        _nodes.Handle = r => r.Port == FakeNodes.Node3.Port ? throw FakeNodes.Refused() : FakeNodes.Health(true, "http://127.0.0.1:5102");

        var nodes = await _api.GetFromJsonAsync<JsonElement>("/cluster/nodes");

        Assert.Equal(3, nodes.GetArrayLength());
        Assert.Equal([true, true, false], nodes.EnumerateArray().Select(n => n.GetProperty("reachable").GetBoolean()));
        Assert.Equal("node2", nodes[0].GetProperty("health").GetProperty("leader").GetString());
    }

    [Fact]
    public async Task TheJobsPageIsServedAsHtml()
    {
        using var page = await _api.GetAsync("/ui");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("id=\"counts\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithKeysThePageIsServedWithoutOneAndItsDataStillNeedsOne()
    {
        using var factory = new ApiFactory(_nodes, new Dictionary<string, string> { ["Api:Keys"] = "reader:jobs:read" });
        using var api = factory.CreateClient();

        using var page = await api.GetAsync("/ui");
        using var anonymous = await api.GetAsync("/jobs/counts");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Contains("X-Api-Key", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownRouteIsAProblem()
    {
        using var response = await _api.GetAsync("/nowhere");

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound);
    }

    private static ByteArrayContent Wasm(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/wasm");
        return content;
    }

    public void Dispose()
    {
        _api.Dispose();
        _factory.Dispose();
    }
}
