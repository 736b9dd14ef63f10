using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Flotilla.Api.Nodes;
using Microsoft.Extensions.Configuration;

namespace Flotilla.Api.Tests;

/// <summary>Api:Keys: who may call what, and what the Api sends the nodes.</summary>
public sealed class ApiKeyTests : IDisposable
{
    private const string Admin = "admin-key";
    private const string Reader = "reader-key";
    private const string Writer = "writer-key";

    private readonly FakeNodes _nodes = new();
    private readonly ApiFactory _factory;
    private readonly HttpClient _api;

    public ApiKeyTests()
    {
        _nodes.Handle = FakeNodes.OneEchoJob;
        _factory = new ApiFactory(_nodes, new Dictionary<string, string>
        {
            ["Api:Keys"] = $"{Admin}, {Reader}:jobs:read, {Writer}:jobs:write+jobs:read",
        });
        _api = _factory.CreateClient();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not-a-key")]
    [InlineData("admin-key ")]
    public async Task WithoutAValidKeyEveryJobRouteIs401AndNothingReachesANode(string? key)
    {
        foreach (var request in new[]
        {
            Request(HttpMethod.Post, "/jobs", key, JsonContent.Create(new { workflow = "echo", payload = 1 })),
            Request(HttpMethod.Get, "/jobs/j1", key),
            Request(HttpMethod.Get, "/jobs/j1/journal", key),
            Request(HttpMethod.Get, "/jobs", key),
            Request(HttpMethod.Get, "/workflows", key),
            Request(HttpMethod.Get, "/cluster/health", key),
        })
        {
            using var response = await _api.SendAsync(request);
            await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized);
            Assert.Contains("X-Api-Key", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }

        Assert.DoesNotContain(_nodes.Requests, r => r.Path is "jobs" or "cluster/submit" or "jobs/j1" or "jobs/j1/journal" or "workflows");
    }

    [Fact]
    public async Task AKeyWithoutTheScopeIs403AndOneWithItPasses()
    {
        using var readerWrites = await _api.SendAsync(Request(HttpMethod.Post, "/jobs", Reader, JsonContent.Create(new { workflow = "echo", payload = 1 })));
        var problem = await ProblemAssert.IsProblemAsync(readerWrites, HttpStatusCode.Forbidden);
        Assert.Contains("jobs:write", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(_nodes.SubmittedJobs());

        using var readerReads = await _api.SendAsync(Request(HttpMethod.Get, "/jobs/j1", Reader));
        Assert.Equal(HttpStatusCode.OK, readerReads.StatusCode);

        using var writerWrites = await _api.SendAsync(Request(HttpMethod.Post, "/jobs", Writer, JsonContent.Create(new { workflow = "echo", payload = 1 })));
        Assert.Equal(HttpStatusCode.Accepted, writerWrites.StatusCode);

        // Registering a workflow needs workflows:admin; a key without scopes has them all.
        using var writerRegisters = await _api.SendAsync(Request(HttpMethod.Put, "/workflows/x", Writer, Wasm()));
        await ProblemAssert.IsProblemAsync(writerRegisters, HttpStatusCode.Forbidden);
        Assert.Empty(_nodes.To("workflows/x"));

        _nodes.Handle = r => r.Path == "workflows/x"
            ? FakeNodes.Json(HttpStatusCode.OK, new { name = "x", sha256 = new string('a', 64), registered_at = DateTimeOffset.UnixEpoch })
            : FakeNodes.Health(true, null);
        using var adminRegisters = await _api.SendAsync(Request(HttpMethod.Put, "/workflows/x", Admin, Wasm()));
        Assert.Equal(HttpStatusCode.OK, adminRegisters.StatusCode);
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("/alive")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/scalar")]
    public async Task ProbesAndDocsNeedNoKey(string path)
    {
        using var response = await _api.GetAsync(path);

        Assert.NotEqual(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.NotEqual(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task ARouteWithoutAScopeStillNeedsAKey()
    {
        // The fallback policy: anything not mapped as open (a future /ui data route, a typo) asks for a key.
        using var response = await _api.GetAsync("/no-such-route");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("k:jobs:delete")]
    [InlineData("k:")]
    [InlineData(":jobs:read")]
    public void AMisconfiguredKeyListStopsTheApiFromStarting(string keys)
    {
        Assert.Throws<InvalidOperationException>(() => new Flotilla.Api.Security.ApiKeys(keys));
    }

    [Fact]
    public void TheApiSendsTheClusterSecretToTheNodes()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cluster:Nodes"] = "http://127.0.0.1:5101",
            ["Cluster:Secret"] = "s3cret",
        }).Build();

        using var nodes = new NodeDirectory(configuration);

        Assert.Equal(["s3cret"], nodes.Client.DefaultRequestHeaders.GetValues("X-Flotilla-Cluster-Secret"));
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, string? key, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        return request;
    }

    private static ByteArrayContent Wasm()
    {
        var content = new ByteArrayContent([0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]);
        content.Headers.ContentType = new("application/wasm");
        return content;
    }

    public void Dispose()
    {
        _api.Dispose();
        _factory.Dispose();
    }
}
