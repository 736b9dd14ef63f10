using System.Diagnostics;
using System.Text.Json;
using Flotilla.Client;
using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Flotilla.Node.Telemetry;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Job = Flotilla.Client.Job;

namespace Flotilla.Node.Apis;

/// <summary>The job routes of the HTTP contract, served by every node (writes go through the leader).</summary>
internal static class JobsApi
{
    private const int MaxBatch = JobRules.MaxBatch;

    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("").WithTags("Jobs");
        jobs.MapPost("/jobs", SubmitAsync);
        jobs.MapPost("/jobs/batch", SubmitBatchAsync);
        jobs.MapPost("/new-job", SubmitUrlAsync).DisableAntiforgery();
        jobs.MapGet("/jobs/counts", Count);
        jobs.MapGet("/jobs/{id}", GetAsync);
        jobs.MapGet("/jobs", ListAsync);
        jobs.MapPost("/jobs/{id}/cancel", CancelAsync);
        return app;
    }

    private static async Task<Results<Accepted<Job>, ValidationProblem, ProblemHttpResult>> SubmitAsync(
        HttpRequest request, Proposer proposer, FlotillaTelemetry telemetry, TimeProvider time, KnownWorkflows workflows, CancellationToken token)
    {
        var body = await JsonRequestBody.ReadAsync<SubmitJobRequest>(request, JsonRequestBody.MaxJobBytes, FlotillaJson.Options, token);
        if (body.Problem is { } problem)
        {
            return problem;
        }

        var errors = new Dictionary<string, string[]>();
        var job = body.Value!.ToNewJob(NewJobId(), time.GetUtcNow().ToUnixTimeMilliseconds(), Activity.Current?.Id, "", errors);
        if (job is null || !await workflows.CheckAsync([(job.Workflow, "")], errors, token))
        {
            return TypedResults.ValidationProblem(errors, title: "The job is not valid.");
        }

        return await ProposeAsync(proposer, telemetry, [job], token) switch
        {
            JobsResult { Jobs: [var stored] } => TypedResults.Accepted($"/jobs/{stored.JobId}", Contract.ToContract(stored)),
            var other => Unexpected(other),
        };
    }

    private static async Task<Results<Accepted<Job[]>, ValidationProblem, ProblemHttpResult>> SubmitBatchAsync(
        HttpRequest request, Proposer proposer, FlotillaTelemetry telemetry, TimeProvider time, KnownWorkflows workflows, CancellationToken token)
    {
        var body = await JsonRequestBody.ReadAsync<SubmitJobRequest[]>(request, JsonRequestBody.MaxBatchBytes, FlotillaJson.Options, token);
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
            .Select((r, i) => r is null ? null : r.ToNewJob(NewJobId(), now, Activity.Current?.Id, $"[{i}].", errors))
            .ToArray();
        JobRules.CheckDistinctKeys(requests, "[{0}].", errors);
        if (errors.Count > 0 || jobs.Any(j => j is null)
            || !await workflows.CheckAsync(jobs.Select((j, i) => (j!.Workflow, $"[{i}].")).ToArray(), errors, token))
        {
            return TypedResults.ValidationProblem(errors, title: "The batch is not valid; no job was accepted.");
        }

        return await ProposeAsync(proposer, telemetry, jobs!, token) switch
        {
            JobsResult stored => TypedResults.Accepted("/jobs", stored.Jobs.Select(Contract.ToContract).ToArray()),
            var other => Unexpected(other),
        };
    }

    private static async Task<Results<Accepted<Job>, ValidationProblem, ProblemHttpResult>> SubmitUrlAsync(
        HttpRequest request, Proposer proposer, FlotillaTelemetry telemetry, TimeProvider time, CancellationToken token)
    {
        if (!request.HasFormContentType)
        {
            return TypedResults.Problem("Send the url as a form field (application/x-www-form-urlencoded): url=https://...", statusCode: 415, title: "Expected a form.");
        }

        var form = await request.ReadFormAsync(token);
        var url = form["url"].ToString();
        if (JobRules.CheckJobUrl(url) is { } bad)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["url"] = [bad] }, title: "The url is not valid.");
        }

        var id = NewJobId();
        var payload = JsonSerializer.SerializeToElement(new { id, url });
        var errors = new Dictionary<string, string[]>();
        var job = new SubmitJobRequest(JobRules.DefaultWorkflow, payload)
            .ToNewJob(id, time.GetUtcNow().ToUnixTimeMilliseconds(), Activity.Current?.Id, "", errors)!;

        return await ProposeAsync(proposer, telemetry, [job], token) switch
        {
            JobsResult { Jobs: [var stored] } => TypedResults.Accepted($"/jobs/{stored.JobId}", Contract.ToContract(stored)),
            var other => Unexpected(other),
        };
    }

    private static Ok<JobCounts> Count(JobStore store) => TypedResults.Ok(store.CountByStatus().ToContract());

    /// <summary>The job; with <c>wait_ms</c>, once it has finished or after that long, whichever comes first.</summary>
    private static async Task<Results<Ok<Job>, NotFound<ProblemDetails>, ValidationProblem>> GetAsync(
        string id, string? consistency, [FromQuery(Name = "wait_ms")] int? waitMs, JobStore store, ReadConsistency reads, JobWaiter waiter, CancellationToken token)
    {
        if (waitMs is < 0 or > JobRules.MaxWaitMs)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["wait_ms"] = [JobRules.WaitRule] });
        }

        await reads.EnsureAsync(consistency, token);
        var job = waitMs is > 0
            ? await waiter.WaitUntilFinishedAsync(id, TimeSpan.FromMilliseconds(waitMs.Value), token)
            : store.GetJob(id);
        return job is not null
            ? TypedResults.Ok(Contract.ToContract(job))
            : TypedResults.NotFound(new ProblemDetails { Title = "No such job.", Detail = $"There is no job '{id}'.", Status = 404 });
    }

    private static async Task<Results<Ok<JobPage>, ValidationProblem>> ListAsync(
        string? status, string? queue, int? limit, string? after, string? consistency, JobStore store, ReadConsistency reads, CancellationToken token)
    {
        Store.JobStatus? wanted = null;
        if (status is not null)
        {
            if (!JobRules.TryParseStatus(status, out var parsed))
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["status"] = [JobRules.StatusRule] });
            }

            wanted = parsed.ToStored();
        }

        if (limit is < 1 or > JobRules.MaxPageSize)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [JobRules.LimitRule] });
        }

        await reads.EnsureAsync(consistency, token);
        var page = store.ListJobs(new JobQuery(wanted, queue, limit ?? JobRules.DefaultPageSize, after));
        var next = page.Count == (limit ?? JobRules.DefaultPageSize) ? page[^1].JobId : null;
        return TypedResults.Ok(new JobPage(page.Select(Contract.ToContract).ToArray(), next));
    }

    private static async Task<Results<Ok<Job>, NotFound<ProblemDetails>, Conflict<ProblemDetails>, ProblemHttpResult>> CancelAsync(
        string id, Proposer proposer, CancellationToken token)
    {
        return await proposer.ProposeAsync(new CancelJob(id), token) switch
        {
            JobChange { Applied: true, Job: { } job } => TypedResults.Ok(Contract.ToContract(job)),
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
        var result = await proposer.ProposeAsync(new SubmitJobs(jobs, SameBodyPerKey: true), token);
        if (result is JobsResult accepted)
        {
            telemetry.Submitted.Add(accepted.Jobs.Count);
        }

        return result;
    }

    /// <summary>What a lone submit answers for a result other than the stored job (a rejection is a 409).</summary>
    internal static ProblemHttpResult Unexpected(CommandResult result) => result is Rejected rejected
        ? TypedResults.Problem(rejected.Reason, statusCode: 409, title: "The cluster rejected the request.")
        : TypedResults.Problem($"Unexpected result {result.GetType().Name}.", statusCode: 500);

    // UUIDv7: unique across the cluster without coordination, and sorted by creation time.
    internal static string NewJobId() => Guid.CreateVersion7().ToString();
}
