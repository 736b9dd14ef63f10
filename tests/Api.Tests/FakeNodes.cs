using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Flotilla.Api.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Flotilla.Api.Tests;

/// <summary>
/// Stands in for the nodes: each request is answered by <see cref="Handle"/> (by node port and
/// path), and every request is recorded with its body so tests can tell what reached a node.
/// </summary>
internal sealed class FakeNodes : HttpMessageHandler
{
    public static readonly Uri Node1 = new("http://127.0.0.1:5101/");
    public static readonly Uri Node2 = new("http://127.0.0.1:5102/");
    public static readonly Uri Node3 = new("http://127.0.0.1:5103/");

    public static readonly ApiOptions FastRetries = new()
    {
        WriteRetryBudget = TimeSpan.FromSeconds(1),
        InitialBackoff = TimeSpan.FromMilliseconds(10),
        MaxBackoff = TimeSpan.FromMilliseconds(50),
    };

    public ConcurrentQueue<Recorded> Requests { get; } = new();

    /// <summary>Answers one request; the default knows no routes (404 everywhere).</summary>
    public Func<Recorded, HttpResponseMessage> Handle { get; set; } = _ => new HttpResponseMessage(HttpStatusCode.NotFound);

    public IEnumerable<Recorded> To(string path) => Requests.Where(r => r.Path == path);

    /// <summary>
    /// Every single job the Api sent to a node, as the client's bytes, with the trace it carried:
    /// the Api sends single submits as items of <c>POST /cluster/submit</c> (see SubmitCoalescer).
    /// </summary>
    public IReadOnlyList<(int Port, string Job, string? TraceParent)> SubmittedJobs() =>
        To("cluster/submit").SelectMany(r =>
        {
            using var items = JsonDocument.Parse(r.Body!);
            return items.RootElement.EnumerateArray().Select(i => (
                r.Port,
                i.GetProperty("job").GetRawText(),
                i.TryGetProperty("trace_parent", out var trace) ? trace.GetString() : null)).ToArray();
        }).ToArray();

    /// <summary>A node's answer to <c>POST /cluster/submit</c>: each item answered by <paramref name="answer"/>.</summary>
    public static HttpResponseMessage SubmitEach(Recorded request, Func<JsonElement, (HttpStatusCode Status, object Body)> answer)
    {
        using var items = JsonDocument.Parse(request.Body!);
        return Json(HttpStatusCode.OK, items.RootElement.EnumerateArray().Select(i =>
        {
            var (status, body) = answer(i.GetProperty("job"));
            return new { status = (int)status, body };
        }).ToArray());
    }

    /// <summary>Every item of a <c>POST /cluster/submit</c> accepted as job j1 (of <paramref name="workflow"/>).</summary>
    public static HttpResponseMessage AcceptEach(Recorded request, string workflow = "echo") =>
        SubmitEach(request, _ => (HttpStatusCode.Accepted, Job("j1", workflow)));

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var recorded = new Recorded(request.RequestUri!.Port, request.Method.Method, request.RequestUri.PathAndQuery.TrimStart('/'), body, request.Content?.Headers.ContentType?.MediaType);
        Requests.Enqueue(recorded);
        return Handle(recorded);
    }

    public NodeDirectory Directory() => new([Node1, Node2, Node3], this);

    public (NodeClient Client, LeaderLocator Leader) Client(ApiOptions? options = null)
    {
        var nodes = Directory();
        var leader = new LeaderLocator(nodes, NullLogger<LeaderLocator>.Instance);
        return (new NodeClient(nodes, leader, Options.Create(options ?? FastRetries), TimeProvider.System, NullLogger<NodeClient>.Instance), leader);
    }

    public static HttpResponseMessage Json(HttpStatusCode status, object body, string? location = null)
    {
        var response = new HttpResponseMessage(status)
        {
            Content = new StringContent(JsonSerializer.Serialize(body, Flotilla.Client.FlotillaJson.Options), Encoding.UTF8, "application/json"),
        };
        if (location is not null)
        {
            response.Headers.Location = new Uri(location, UriKind.Relative);
        }

        return response;
    }

    public static HttpResponseMessage Health(bool hasLeader, string? leaderUrl) => Json(HttpStatusCode.OK, new
    {
        is_healthy = hasLeader,
        node_count = 3,
        has_leader = hasLeader,
        leader = hasLeader ? "node2" : null,
        term = 3,
        commit_index = 10,
        node_id = "node1",
        leader_url = leaderUrl,
    });

    /// <summary>A healthy cluster whose leader is node2, knows the echo workflow and takes and shows job j1.</summary>
    public static HttpResponseMessage OneEchoJob(Recorded request) => request.Path switch
    {
        "cluster/health" => Health(true, "http://127.0.0.1:5102"),
        "workflows" => Json(HttpStatusCode.OK, Workflows("echo")),
        "cluster/submit" => AcceptEach(request),
        "jobs/j1" => Json(HttpStatusCode.OK, Job("j1")),
        _ => Json(HttpStatusCode.NotFound, new { title = "No such thing.", status = 404 }),
    };

    public static HttpResponseMessage Unavailable() => Json(HttpStatusCode.ServiceUnavailable, new { title = "The cluster cannot take this request right now.", status = 503 });

    public static HttpRequestException Refused() => new(HttpRequestError.ConnectionError, "Connection refused (127.0.0.1)");

    public static object Job(string id, string workflow = "echo") => new
    {
        job_id = id,
        status = "pending",
        workflow,
        queue = "default",
        priority = 0,
        payload = new { hi = 1 },
        attempts = 0,
        max_attempts = 5,
        run_at = DateTimeOffset.UnixEpoch,
        created_at = DateTimeOffset.UnixEpoch,
        updated_at = DateTimeOffset.UnixEpoch,
    };

    public static object Workflows(params string[] names) =>
        names.Select(n => new { name = n, sha256 = new string('a', 64), registered_at = DateTimeOffset.UnixEpoch }).ToArray();

    internal sealed record Recorded(int Port, string Method, string Path, byte[]? Body, string? ContentType)
    {
        public string Text => Body is null ? "" : Encoding.UTF8.GetString(Body);
    }
}
