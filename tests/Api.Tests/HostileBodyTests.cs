using System.Net;
using System.Text;

namespace Flotilla.Api.Tests;

/// <summary>The shared JSON reading rules at the Api: each hostile body is a 4xx problem and reaches no node.</summary>
public sealed class HostileBodyTests : IDisposable
{
    private readonly FakeNodes _nodes = new();
    private readonly ApiFactory _factory;
    private readonly HttpClient _api;

    public HostileBodyTests()
    {
        _nodes.Handle = r => r.Path switch
        {
            "cluster/health" => FakeNodes.Health(true, "http://127.0.0.1:5102"),
            "workflows" => FakeNodes.Json(HttpStatusCode.OK, FakeNodes.Workflows("echo")),
            _ => FakeNodes.Json(HttpStatusCode.Accepted, FakeNodes.Job("j1"), "/jobs/j1"),
        };
        _factory = new ApiFactory(_nodes);
        _api = _factory.CreateClient();
    }

    public static TheoryData<string, string, byte[], int> Bodies => new()
    {
        { "nested 33", "application/json", Utf8($"{{\"workflow\":\"echo\",\"payload\":{new string('[', 33)}{new string(']', 33)}}}"), 400 },
        { "invalid UTF-8", "application/json", [.. Utf8("{\"workflow\":\"echo\",\"payload\":\""), 0xC3, 0x28, .. Utf8("\"}")], 400 },
        { "duplicate key", "application/json", Utf8("""{"workflow":"echo","workflow":"echo"}"""), 400 },
        { "duplicate key in payload", "application/json", Utf8("""{"workflow":"echo","payload":[{"a":1,"b":{"c":1,"c":2}}]}"""), 400 },
        { "byte order mark", "application/json", [0xEF, 0xBB, 0xBF, .. Utf8("""{"workflow":"echo"}""")], 400 },
        { "text/plain", "text/plain", Utf8("""{"workflow":"echo"}"""), 415 },
        { "utf-16 charset", "application/json; charset=utf-16", Utf8("""{"workflow":"echo"}"""), 415 },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task AHostileBodyIsAProblemAndReachesNoNode(string what, string contentType, byte[] body, int status)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        using var response = await _api.PostAsync("/jobs", content);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"{what}: {(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(_nodes.SubmittedJobs());
    }

    [Fact]
    public async Task APayloadAtTheDepthLimitGoesThrough()
    {
        var body = $"{{\"workflow\":\"echo\",\"payload\":{new string('[', 32)}{new string(']', 32)}}}";

        using var response = await _api.PostAsync("/jobs", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task AWorkflowTimeoutIsPassedOnAsTimeoutMsAndCheckedFirst()
    {
        var module = new ByteArrayContent([0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]);
        module.Headers.ContentType = new("application/wasm");
        _nodes.Handle = r => r.Path.StartsWith("workflows/x", StringComparison.Ordinal)
            ? FakeNodes.Json(HttpStatusCode.OK, new { name = "x", sha256 = new string('a', 64), registered_at = DateTimeOffset.UnixEpoch, timeout_ms = 1500 })
            : FakeNodes.Health(true, null);

        using var ok = await _api.PutAsync("/workflows/x?timeout_ms=1500", module);
        using var bad = await _api.PutAsync("/workflows/x?timeout_ms=0", module);

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("workflows/x?timeout_ms=1500", Assert.Single(_nodes.Requests, r => r.Method == "PUT").Path);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("timeout_ms", (await bad.Content.ReadAsStringAsync()), StringComparison.Ordinal);
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    public void Dispose()
    {
        _api.Dispose();
        _factory.Dispose();
    }
}
