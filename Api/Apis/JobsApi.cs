using System.Diagnostics;
using System.Net;
using System.Text;
using Flotilla.Api.Nodes;
using Flotilla.Api.Security;
using Flotilla.Api.Workflows;
using Flotilla.Client;
using Flotilla.Node.Apis;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Flotilla.Api.Apis;

/// <summary>
/// The job routes of the HTTP contract. Bodies are checked here first (bad input never reaches
/// a node), then writes go through the leader and reads to any node (<see cref="NodeClient"/>).
/// </summary>
internal static class JobsApi
{
    public const int MaxBatch = JobRules.MaxBatch;


    public static RouteGroupBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("").WithTags("Jobs").ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapPost("/jobs", SubmitAsync).Accepts<SubmitJobRequest>("application/json").ProducesProblem(StatusCodes.Status413PayloadTooLarge).RequireAuthorization(ApiScopes.JobsWrite).RequireRateLimiting(WriteRateLimitExtensions.Policy);
        api.MapPost("/jobs/batch", SubmitBatchAsync).Accepts<SubmitJobRequest[]>("application/json").ProducesProblem(StatusCodes.Status413PayloadTooLarge).RequireAuthorization(ApiScopes.JobsWrite).RequireRateLimiting(WriteRateLimitExtensions.Policy);
        api.MapPost("/new-job", SubmitUrlAsync).Accepts<NewJobForm>("application/x-www-form-urlencoded").DisableAntiforgery().RequireAuthorization(ApiScopes.JobsWrite).RequireRateLimiting(WriteRateLimitExtensions.Policy);
        api.MapGet("/jobs/counts", CountAsync).RequireAuthorization(ApiScopes.JobsRead);
        api.MapGet("/jobs/{id}", GetAsync).ProducesProblem(StatusCodes.Status404NotFound).RequireAuthorization(ApiScopes.JobsRead);
        api.MapGet("/jobs", ListAsync).RequireAuthorization(ApiScopes.JobsRead);
        api.MapGet("/jobs/{id}/journal", GetJournalAsync).ProducesProblem(StatusCodes.Status404NotFound).RequireAuthorization(ApiScopes.JobsRead);
        api.MapPost("/jobs/{id}/cancel", CancelAsync).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).RequireAuthorization(ApiScopes.JobsWrite).RequireRateLimiting(WriteRateLimitExtensions.Policy);
        return api;
    }

    private static async Task<Results<Accepted<Job>, ValidationProblem, ProblemHttpResult>> SubmitAsync(
        HttpRequest request, SubmitCoalescer submits, WorkflowCatalog workflows, TimeProvider time, CancellationToken token)
    {
        // The nodes' own reading rules (type, size, UTF-8, duplicates): one answer for one body.
        var (job, body, bad) = await JsonRequestBody.ReadAsync<SubmitJobRequest>(request, JsonRequestBody.MaxJobBytes, FlotillaJson.Options, token, keepBytes: true);
        if (bad is not null)
        {
            return bad;
        }

        var errors = await ValidateAsync([job!], "", time.GetUtcNow(), workflows, token);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The job is not valid.");
        }

        // The client's own bytes go on, with other clients' submits of the same moment; the job's
        // trace starts at this request.
        var answer = await submits.SubmitAsync(body!, Activity.Current?.Id, token);
        if (answer.Status != HttpStatusCode.Accepted)
        {
            return NodeResults.Problem(answer, request.HttpContext.Response);
        }

        var stored = answer.Read<Job>();
        return TypedResults.Accepted($"/jobs/{stored.JobId}", stored);
    }

    private static async Task<Results<NodeAccepted<Job[]>, ValidationProblem, ProblemHttpResult>> SubmitBatchAsync(
        HttpRequest request, NodeClient nodes, WorkflowCatalog workflows, TimeProvider time, CancellationToken token)
    {
        var (jobs, body, bad) = await JsonRequestBody.ReadAsync<SubmitJobRequest?[]>(request, JsonRequestBody.MaxBatchBytes, FlotillaJson.Options, token, keepBytes: true);
        if (bad is not null)
        {
            return bad;
        }

        if (jobs!.Length is 0 or > MaxBatch)
        {
            return TypedResults.Problem($"A batch holds 1 to {MaxBatch} jobs; this one has {jobs.Length}.", statusCode: 400, title: "Bad batch size.");
        }

        var errors = await ValidateAsync(jobs, "[{0}].", time.GetUtcNow(), workflows, token);
        JobRules.CheckDistinctKeys(jobs, "[{0}].", errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The batch is not valid; no job was accepted.");
        }

        var answer = await nodes.WriteAsync(HttpMethod.Post, "jobs/batch", body, "application/json", token);
        return answer.Status == HttpStatusCode.Accepted
            ? new NodeAccepted<Job[]>(answer, answer.Location ?? "/jobs")
            : NodeResults.Problem(answer, request.HttpContext.Response);
    }

    private static async Task<Results<Accepted<Job>, ValidationProblem, ProblemHttpResult>> SubmitUrlAsync(
        HttpRequest request, NodeClient nodes, CancellationToken token)
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

        // The node picks the default workflow and the job id that goes into the payload.
        var body = Encoding.UTF8.GetBytes("url=" + Uri.EscapeDataString(url));
        var answer = await nodes.WriteAsync(HttpMethod.Post, "new-job", body, "application/x-www-form-urlencoded", token);
        if (answer.Status != HttpStatusCode.Accepted)
        {
            return NodeResults.Problem(answer, request.HttpContext.Response);
        }

        var stored = answer.Read<Job>();
        return TypedResults.Accepted(answer.Location ?? $"/jobs/{stored.JobId}", stored);
    }

    private static async Task<Results<Ok<JobCounts>, ProblemHttpResult>> CountAsync(HttpResponse response, NodeClient nodes, CancellationToken token)
    {
        var answer = await nodes.ReadAsync("jobs/counts", token);
        return answer.Status == HttpStatusCode.OK
            ? TypedResults.Ok(answer.Read<JobCounts>())
            : NodeResults.Problem(answer, response);
    }

    /// <summary>The job; with <c>wait_ms</c>, once it has finished or after that long (the node waits, without polling).</summary>
    private static async Task<Results<Ok<Job>, ValidationProblem, ProblemHttpResult>> GetAsync(
        string id, string? consistency, [FromQuery(Name = "wait_ms")] int? waitMs, HttpResponse response, NodeClient nodes, CancellationToken token)
    {
        if (waitMs is < 0 or > JobRules.MaxWaitMs)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["wait_ms"] = [JobRules.WaitRule] });
        }

        var path = $"jobs/{Uri.EscapeDataString(id)}{Query(("consistency", consistency), ("wait_ms", waitMs?.ToString(System.Globalization.CultureInfo.InvariantCulture)))}";
        var answer = await nodes.ReadAsync(path, TimeSpan.FromMilliseconds(waitMs ?? 0), token);
        return answer.Status == HttpStatusCode.OK
            ? TypedResults.Ok(answer.Read<Job>())
            : NodeResults.Problem(answer, response);
    }

    /// <summary>A durable job's journal, as the node that answers has applied it.</summary>
    private static async Task<Results<Ok<JournalView>, ProblemHttpResult>> GetJournalAsync(
        string id, string? consistency, HttpResponse response, NodeClient nodes, CancellationToken token)
    {
        var answer = await nodes.ReadAsync($"jobs/{Uri.EscapeDataString(id)}/journal{Query(("consistency", consistency))}", token);
        return answer.Status == HttpStatusCode.OK
            ? TypedResults.Ok(answer.Read<JournalView>())
            : NodeResults.Problem(answer, response);
    }

    private static async Task<Results<Ok<JobPage>, ValidationProblem, ProblemHttpResult>> ListAsync(
        string? status, string? queue, int? limit, string? after, string? consistency, HttpResponse response, NodeClient nodes, CancellationToken token)
    {
        var errors = new Dictionary<string, string[]>();
        if (status is not null && !JobRules.TryParseStatus(status, out _))
        {
            errors["status"] = [JobRules.StatusRule];
        }

        if (limit is < 1 or > JobRules.MaxPageSize)
        {
            errors["limit"] = [JobRules.LimitRule];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var query = Query(("status", status), ("queue", queue), ("limit", limit?.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("after", after), ("consistency", consistency));
        var answer = await nodes.ReadAsync("jobs" + query, token);
        return answer.Status == HttpStatusCode.OK
            ? TypedResults.Ok(answer.Read<JobPage>())
            : NodeResults.Problem(answer, response);
    }

    private static async Task<Results<Ok<Job>, ProblemHttpResult>> CancelAsync(
        string id, HttpResponse response, NodeClient nodes, CancellationToken token)
    {
        var answer = await nodes.WriteAsync(HttpMethod.Post, $"jobs/{Uri.EscapeDataString(id)}/cancel", [], null, token);
        return answer.Status == HttpStatusCode.OK
            ? TypedResults.Ok(answer.Read<Job>())
            : NodeResults.Problem(answer, response);
    }

    /// <summary>The node's rules first, then whether each workflow is registered (skipped when that cannot be learnt).</summary>
    internal static async Task<Dictionary<string, string[]>> ValidateAsync(
        IReadOnlyList<SubmitJobRequest?> jobs, string prefixFormat, DateTimeOffset now, WorkflowCatalog workflows, CancellationToken token)
    {
        var errors = new Dictionary<string, string[]>();
        for (var i = 0; i < jobs.Count; i++)
        {
            var prefix = string.Format(System.Globalization.CultureInfo.InvariantCulture, prefixFormat, i);
            if (jobs[i] is not { } job)
            {
                errors[prefix.TrimEnd('.')] = ["a job must be a JSON object."];
            }
            else if (job.Validate(now, prefix, errors) || !errors.ContainsKey(prefix + "workflow"))
            {
                if (await workflows.IsKnownAsync(job.Workflow!, token) == false)
                {
                    errors[prefix + "workflow"] = [$"unknown workflow '{job.Workflow}'."];
                }
            }
        }

        return errors;
    }

    private static string Query(params (string Name, string? Value)[] parameters)
    {
        var present = parameters.Where(p => p.Value is not null).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}").ToArray();
        return present.Length == 0 ? "" : "?" + string.Join('&', present);
    }
}

/// <summary>The form of <c>POST /new-job</c>: the URL the default workflow gets in its payload.</summary>
internal sealed record NewJobForm(string Url);
