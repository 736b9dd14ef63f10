using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Flotilla.Api.Cluster;
using Flotilla.Node.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Flotilla.Api.Apis;

/// <summary>
/// The public job routes. Every job is checked here with the nodes' own rules plus "is the
/// workflow registered"; valid writes go to the leader, reads to any node.
/// </summary>
internal static class JobsApi
{
    private const int MaxBatch = SubmitJobRequest.MaxBatch;
    private static readonly JsonSerializerOptions RequestJson = SubmitJobRequest.RequestJson;

    public static IEndpointRouteBuilder MapJobsApiV1(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("").WithTags("Jobs");
        jobs.MapPost("/jobs", SubmitAsync).Accepts<SubmitJobRequest>("application/json").Produces(202).ProducesValidationProblem();
        jobs.MapPost("/jobs/batch", SubmitBatchAsync).Accepts<SubmitJobRequest[]>("application/json").Produces(202).ProducesValidationProblem();
        jobs.MapPost("/new-job", SubmitUrlAsync).Accepts<IFormCollection>("application/x-www-form-urlencoded").Produces(202).DisableAntiforgery();
        jobs.MapGet("/jobs/{id}", GetAsync).Produces(200).ProducesProblem(404);
        jobs.MapGet("/jobs", ListAsync).Produces(200).ProducesValidationProblem();
        jobs.MapPost("/jobs/{id}/cancel", CancelAsync).Produces(200).ProducesProblem(404).ProducesProblem(409);
        return app;
    }

    private static async Task<IResult> SubmitAsync(HttpRequest request, ClusterClient cluster, WorkflowCatalog catalog, TimeProvider time, CancellationToken token)
    {
        var (body, job, problem) = await ReadAsync<SubmitJobRequest>(request, token);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new Dictionary<string, string[]>();
        job!.Check(time.GetUtcNow().ToUnixTimeMilliseconds(), "", errors);
        await CheckWorkflowsAsync(catalog, [(job, "")], errors, token);
        return errors.Count > 0
            ? TypedResults.ValidationProblem(errors, title: "The job is not valid.")
            : await ForwardJsonAsync(cluster, "jobs", body, token);
    }

    private static async Task<IResult> SubmitBatchAsync(HttpRequest request, ClusterClient cluster, WorkflowCatalog catalog, TimeProvider time, CancellationToken token)
    {
        var (body, jobs, problem) = await ReadAsync<SubmitJobRequest?[]>(request, token);
        if (problem is not null)
        {
            return problem;
        }

        if (jobs!.Length is 0 or > MaxBatch)
        {
            return TypedResults.Problem($"A batch holds 1 to {MaxBatch} jobs; this one has {jobs.Length}.", statusCode: 400, title: "Bad batch size.");
        }

        var errors = new Dictionary<string, string[]>();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 0; i < jobs.Length; i++)
        {
            if (jobs[i] is null)
            {
                errors[$"[{i}]"] = ["a job is required, not null."];
            }
            else
            {
                jobs[i]!.Check(now, $"[{i}].", errors);
            }
        }

        await CheckWorkflowsAsync(catalog, jobs.Select((j, i) => (j, $"[{i}].")).Where(x => x.j is not null)!, errors, token);
        return errors.Count > 0
            ? TypedResults.ValidationProblem(errors, title: "The batch is not valid; no job was accepted.")
            : await ForwardJsonAsync(cluster, "jobs/batch", body, token);
    }

    private static async Task<IResult> SubmitUrlAsync(HttpRequest request, ClusterClient cluster, CancellationToken token)
    {
        if (!request.HasFormContentType)
        {
            return TypedResults.Problem("Send the url as a form field (application/x-www-form-urlencoded): url=https://...", statusCode: 415, title: "Expected a form.");
        }

        var form = await request.ReadFormAsync(token);
        var url = form["url"].ToString();
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["url"] = ["url must be an absolute http(s) URL."] });
        }

        return new RelayedResponse(await cluster.WriteAsync(
            node => new HttpRequestMessage(HttpMethod.Post, new Uri(node, "new-job"))
            {
                Content = new FormUrlEncodedContent([new("url", url)]),
            },
            token));
    }

    private static async Task<IResult> GetAsync(string id, HttpRequest request, ClusterClient cluster, CancellationToken token) =>
        new RelayedResponse(await cluster.ReadAsync(
            node => new HttpRequestMessage(HttpMethod.Get, new Uri(node, $"jobs/{Uri.EscapeDataString(id)}{request.QueryString}")), token));

    private static async Task<IResult> ListAsync(HttpRequest request, ClusterClient cluster, CancellationToken token) =>
        new RelayedResponse(await cluster.ReadAsync(
            node => new HttpRequestMessage(HttpMethod.Get, new Uri(node, $"jobs{request.QueryString}")), token));

    private static async Task<IResult> CancelAsync(string id, ClusterClient cluster, CancellationToken token) =>
        new RelayedResponse(await cluster.WriteAsync(
            node => new HttpRequestMessage(HttpMethod.Post, new Uri(node, $"jobs/{Uri.EscapeDataString(id)}/cancel")), token));

    private static async Task CheckWorkflowsAsync(
        WorkflowCatalog catalog, IEnumerable<(SubmitJobRequest Job, string Prefix)> jobs, Dictionary<string, string[]> errors, CancellationToken token)
    {
        var named = jobs.Where(j => !errors.ContainsKey(j.Prefix + "workflow") && j.Job.Workflow is not null).ToArray();
        var unknown = (await catalog.UnknownAsync(named.Select(j => j.Job.Workflow!), token)).ToHashSet();
        foreach (var (job, prefix) in named.Where(j => unknown.Contains(j.Job.Workflow!)))
        {
            errors[prefix + "workflow"] = [$"unknown workflow '{job.Workflow}': register it with PUT /workflows/{job.Workflow} first."];
        }
    }

    private static async Task<IResult> ForwardJsonAsync(ClusterClient cluster, string path, byte[] body, CancellationToken token) =>
        new RelayedResponse(await cluster.WriteAsync(
            node => new HttpRequestMessage(HttpMethod.Post, new Uri(node, path))
            {
                Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
            },
            token));

    private static async Task<(byte[] Body, T? Value, ProblemHttpResult? Problem)> ReadAsync<T>(HttpRequest request, CancellationToken token)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, token);
        var body = buffer.ToArray();
        try
        {
            var value = JsonSerializer.Deserialize<T>(body, RequestJson);
            return value is null
                ? (body, default, TypedResults.Problem("The body is empty or null.", statusCode: 400, title: "Expected a JSON body."))
                : (body, value, null);
        }
        catch (JsonException ex)
        {
            return (body, default, TypedResults.Problem(ex.Message, statusCode: 400, title: "The body is not valid JSON for this route."));
        }
    }
}
