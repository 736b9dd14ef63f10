using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Flotilla.Api.Tests;

/// <summary>Api:RateLimit: a token bucket per API key on the write routes; reads and other keys go on.</summary>
public sealed class RateLimitTests : IDisposable
{
    private const string First = "first-key";
    private const string Second = "second-key";

    private readonly FakeNodes _nodes = new();
    private readonly ApiFactory _factory;
    private readonly HttpClient _api;

    public RateLimitTests()
    {
        _nodes.Handle = FakeNodes.OneEchoJob;

        // One write a second per key, a burst of three: the fourth write in a row is refused.
        _factory = new ApiFactory(_nodes, new Dictionary<string, string>
        {
            ["Api:Keys"] = $"{First},{Second}",
            ["Api:RateLimit:PermitsPerSecond"] = "1",
            ["Api:RateLimit:Burst"] = "3",
        });
        _api = _factory.CreateClient();
    }

    [Fact]
    public async Task AKeyOverItsWriteRateGets429WithRetryAfterWhileReadsAndOtherKeysGoOn()
    {
        using (await _api.SendAsync(Request(HttpMethod.Get, "/jobs/j1", First)))
        {
            // Warm the pipeline, so the four writes below come well within a second.
        }

        for (var i = 0; i < 3; i++)
        {
            using var accepted = await _api.SendAsync(Submit(First));
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        var reachedNodes = _nodes.SubmittedJobs().Count;
        using var refused = await _api.SendAsync(Submit(First));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        var retryAfter = refused.Headers.RetryAfter?.Delta;
        Assert.True(retryAfter is { TotalSeconds: >= 1 }, $"Retry-After: {refused.Headers.RetryAfter}");
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(429, problem.GetProperty("status").GetInt32());
        Assert.Contains("Api:RateLimit", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(reachedNodes, _nodes.SubmittedJobs().Count); // the refused write never left the Api

        // Reads are not limited, and another key has its own bucket.
        using var read = await _api.SendAsync(Request(HttpMethod.Get, "/jobs/j1", First));
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        using var other = await _api.SendAsync(Submit(Second));
        Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);
    }

    [Fact]
    public async Task WithoutKeysEveryCallerSharesOneBucket()
    {
        using var factory = new ApiFactory(_nodes, new Dictionary<string, string>
        {
            ["Api:RateLimit:PermitsPerSecond"] = "1",
            ["Api:RateLimit:Burst"] = "2",
        });
        using var api = factory.CreateClient();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await api.SendAsync(Submit(key: null));
            statuses.Add(response.StatusCode);
        }

        Assert.Equal([HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.TooManyRequests], statuses);
    }

    private static HttpRequestMessage Submit(string? key) =>
        Request(HttpMethod.Post, "/jobs", key, JsonContent.Create(new { workflow = "echo", payload = 1 }));

    private static HttpRequestMessage Request(HttpMethod method, string path, string? key, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        return request;
    }

    public void Dispose()
    {
        _api.Dispose();
        _factory.Dispose();
    }
}
