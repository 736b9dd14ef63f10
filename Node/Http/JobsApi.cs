using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Flotilla.Node.Telemetry;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Flotilla.Node.Http;

/// <summary>The job routes of the HTTP contract, served by every node (writes go through the leader).</summary>
internal static class JobsApi
{
    private const int MaxBatch = SubmitJobRequest.MaxBatch;
    private static readonly JsonSerializerOptions RequestJson = SubmitJobRequest.RequestJson;

    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("").WithTags("Jobs");
        jobs.MapPost("/jobs", SubmitAsync);
        jobs.MapPost("/jobs/batch", SubmitBatchAsync);
        jobs.MapPost("/new-job", SubmitUrlAsync).DisableAntiforgery();
        jobs.MapGet("/jobs/{id}", GetAsync);
        jobs.MapGet("/jobs", ListAsync);
        jobs.MapPost("/jobs/{id}/cancel", CancelAsync);
        return app;
    }

    private static async Task<Results<Accepted<JobView>, ValidationProblem, ProblemHttpResult>> SubmitAsync(
        HttpRequest request, Proposer proposer, FlotillaTelemetry telemetry, TimeProvider time, KnownWorkflows workflows, CancellationToken token)
    {
        var body = await JsonRequestBody.ReadAsync<SubmitJobRequest>(request, JsonRequestBody.MaxJobBytes, RequestJson, token);
        if (body.Problem is { } problem)
        {
            return problem;
        }

        var errors = new Dictionary<string, string[]>();
        var job = body.Value!.Validate(NewJobId(), time.GetUtcNow().ToUnixTimeMilliseconds(), Activity.Current?.Id, "", errors);
        if (job is null || !await workflows.CheckAsync([(job.Workflow, "")], errors, token))
        {
            return TypedResults.ValidationProblem(errors, title: "The job is not valid.");
        }

        return await ProposeAsync(proposer, telemetry, [job], token) switch
        {
            JobsResult { Jobs: [var stored] } => TypedResults.Accepted($"/jobs/{stored.JobId}", JobView.From(stored)),
            var other => Unexpected(other),
        };
    }

    private static async Task<Results<Accepted<JobView[]>, ValidationProblem, ProblemHttpResult>> SubmitBatchAsync(
        HttpRequest request, Proposer proposer, FlotillaTelemetry telemetry, TimeProvider time, KnownWorkflows workflows, CancellationToken token)
    {
        var body = await JsonRequestBody.ReadAsync<SubmitJobRequest[]>(request, JsonRequestBody.MaxBatchBytes, RequestJson, token);
        if (body.Problem is { } problem)
        {
            return problem;
        }

        var requests = body.Value!;
        if (requests.Length is 0 or > MaxBatch)
        {
            return TypedResults.Problem($"A batch holds 1 to {MaxBatch} jobs; this one has {requests.Length}.", statusCode: 400, title: "Bad batch size.");
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var errors = new Dictionary<string, string[]>();
        var jobs = requests
            .Select((r, i) => r is null ? null : r.Validate(NewJobId(), now, Activity.Current?.Id, $"[{i}].", errors))
            .ToArray();
        if (errors.Count > 0 || jobs.Any(j => j is null)
            || !await workflows.CheckAsync(jobs.Select((j, i) => (j!.Workflow, $"[{i}].")).ToArray(), errors, token))
        {
            return TypedResults.ValidationProblem(errors, title: "The batch is not valid; no job was accepted.");
        }

        return await ProposeAsync(proposer, telemetry, jobs!, token) switch
        {
            JobsResult stored => TypedResults.Accepted("/jobs", stored.Jobs.Select(JobView.From).ToArray()),
            var other => Unexpected(other),
        };
    }

    private static async Task<Results<Accepted<JobView>, ValidationProblem, ProblemHttpResult>> SubmitUrlAsync(
        HttpRequest request, Proposer proposer, FlotillaTelemetry telemetry, TimeProvider time, CancellationToken token)
    {
        if (!request.HasFormContentType)
        {
            return TypedResults.Problem("Send the url as a form field (application/x-www-form-urlencoded): url=https://...", statusCode: 415, title: "Expected a form.");
        }

        var form = await request.ReadFormAsync(token);
        var url = form["url"].ToString();
        if (!SubmitJobRequest.IsJobUrl(url))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["url"] = [SubmitJobRequest.JobUrlRule] });
        }

        var id = NewJobId();
        var payload = JsonSerializer.SerializeToElement(new { id, url });
        var errors = new Dictionary<string, string[]>();
        var job = new SubmitJobRequest(DefaultWorkflow, payload, null, null, null, null, null, null, null)
            .Validate(id, time.GetUtcNow().ToUnixTimeMilliseconds(), Activity.Current?.Id, "", errors)!;

        return await ProposeAsync(proposer, telemetry, [job], token) switch
        {
            JobsResult { Jobs: [var stored] } => TypedResults.Accepted($"/jobs/{stored.JobId}", JobView.From(stored)),
            var other => Unexpected(other),
        };
    }

    /// <summary>The workflow <c>POST /new-job</c> runs: returns its payload and the node that ran it.</summary>
    public const string DefaultWorkflow = "echo";

    private static async Task<Results<Ok<JobView>, NotFound<ProblemDetails>>> GetAsync(
        string id, string? consistency, JobStore store, ReadConsistency reads, CancellationToken token)
    {
        await reads.EnsureAsync(consistency, token);
        return store.GetJob(id) is { } job
            ? TypedResults.Ok(JobView.From(job))
            : TypedResults.NotFound(new ProblemDetails { Title = "No such job.", Detail = $"There is no job '{id}'.", Status = 404 });
    }

    private static async Task<Results<Ok<JobPage>, ValidationProblem>> ListAsync(
        string? status, string? queue, int? limit, string? after, string? consistency, JobStore store, ReadConsistency reads, CancellationToken token)
    {
        JobStatus? wanted = null;
        if (status is not null)
        {
            if (!Enum.TryParse<JobStatus>(status, ignoreCase: true, out var parsed) || int.TryParse(status, out _))
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["status"] = ["status must be one of pending, running, completed, failed, cancelled."],
                });
            }

            wanted = parsed;
        }

        if (limit is < 1 or > 1000)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = ["limit must be between 1 and 1000."] });
        }

        await reads.EnsureAsync(consistency, token);
        var page = store.ListJobs(new JobQuery(wanted, queue, limit ?? 100, after));
        var next = page.Count == (limit ?? 100) ? page[^1].JobId : null;
        return TypedResults.Ok(new JobPage(page.Select(JobView.From).ToArray(), next));
    }

    private static async Task<Results<Ok<JobView>, NotFound<ProblemDetails>, Conflict<ProblemDetails>, ProblemHttpResult>> CancelAsync(
        string id, Proposer proposer, CancellationToken token)
    {
        return await proposer.ProposeAsync(new CancelJob(id), token) switch
        {
            JobChange { Applied: true, Job: { } job } => TypedResults.Ok(JobView.From(job)),
            JobChange { Job: null } => TypedResults.NotFound(new ProblemDetails { Title = "No such job.", Detail = $"There is no job '{id}'.", Status = 404 }),
            JobChange { Job: { } job } => TypedResults.Conflict(new ProblemDetails
            {
                Title = "The job has already finished.",
                Detail = $"Job '{id}' is {job.Status.ToString().ToLowerInvariant()}; only pending or running jobs can be cancelled.",
                Status = 409,
            }),
            var other => Unexpected(other),
        };
    }

    private static async Task<CommandResult> ProposeAsync(
        Proposer proposer, FlotillaTelemetry telemetry, IReadOnlyList<NewJob> jobs, CancellationToken token)
    {
        var result = await proposer.ProposeAsync(new SubmitJobs(jobs), token);
        if (result is JobsResult accepted)
        {
            telemetry.Submitted.Add(accepted.Jobs.Count);
        }

        return result;
    }

    private static ProblemHttpResult Unexpected(CommandResult result) => result is Rejected rejected
        ? TypedResults.Problem(rejected.Reason, statusCode: 409, title: "The cluster rejected the request.")
        : TypedResults.Problem($"Unexpected result {result.GetType().Name}.", statusCode: 500);

    // UUIDv7: unique across the cluster without coordination, and sorted by creation time.
    private static string NewJobId() => Guid.CreateVersion7().ToString();
}
