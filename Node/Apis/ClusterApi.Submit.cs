using System.Diagnostics;
using System.Text.Json;
using Flotilla.Client;
using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Flotilla.Node.Telemetry;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Flotilla.Node.Apis;

/// <summary>
/// <c>POST /cluster/submit</c>: independent submits in one request (<see cref="SubmitItem"/>).
/// Unlike <c>/jobs/batch</c>, which is all or nothing, each item is checked and stored on its
/// own, exactly as if it had come alone: a bad item is answered 400 and the rest go on, and an
/// item whose idempotency key another item (or an earlier job) holds gets what a lone submit
/// would get. The valid items are one command each, proposed together, so they share one log
/// entry. A failure of the whole write (no leader, outcome unknown) is the request's answer.
/// </summary>
internal static partial class ClusterApi
{
    private static async Task<Results<Ok<SubmitItemAnswer[]>, ProblemHttpResult>> SubmitItemsAsync(
        HttpRequest request, Proposer proposer, FlotillaTelemetry telemetry, TimeProvider time, KnownWorkflows workflows, CancellationToken token)
    {
        var body = await JsonRequestBody.ReadAsync<SubmitItem?[]>(request, JsonRequestBody.MaxBatchBytes, FlotillaJson.Options, token);
        if (body.Problem is { } problem)
        {
            return problem;
        }

        var items = body.Value!;
        if (items.Length is 0 or > JobRules.MaxBatch)
        {
            return TypedResults.Problem($"A submit request holds 1 to {JobRules.MaxBatch} items; this one has {items.Length}.", statusCode: 400, title: "Bad batch size.");
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var answers = new SubmitItemAnswer[items.Length];
        var valid = new List<(int Item, NewJob Job)>(items.Length);
        for (var i = 0; i < items.Length; i++)
        {
            var errors = new Dictionary<string, string[]>();
            if (items[i]?.Job is not { } submit)
            {
                errors["job"] = ["an item must hold a job."];
            }
            else if (submit.ToNewJob(JobsApi.NewJobId(), now, TraceParentOf(items[i]!), "", errors) is { } job)
            {
                valid.Add((i, job));
                continue;
            }

            answers[i] = Invalid(errors);
        }

        // One registry read for all of them; an unknown workflow fails only its own item.
        var unknown = new Dictionary<string, string[]>();
        if (!await workflows.CheckAsync(valid.Select(v => (v.Job.Workflow, $"[{v.Item}].")).ToArray(), unknown, token))
        {
            foreach (var (item, _) in valid.Where(v => unknown.ContainsKey($"[{v.Item}].workflow")).ToArray())
            {
                answers[item] = Invalid(new() { ["workflow"] = unknown[$"[{item}].workflow"] });
            }

            valid.RemoveAll(v => unknown.ContainsKey($"[{v.Item}].workflow"));
        }

        if (valid.Count > 0)
        {
            var proposed = await proposer.ProposeAsync(valid.Select(v => (Command)new SubmitJobs([v.Job], SameBodyPerKey: true)).ToArray(), 0, token);
            var accepted = 0;
            for (var k = 0; k < valid.Count; k++)
            {
                answers[valid[k].Item] = proposed.Results[k] switch
                {
                    JobsResult { Jobs: [var stored] } => Answer(StatusCodes.Status202Accepted, Contract.ToContract(stored)),
                    var other => Answer(JobsApi.Unexpected(other)), // what a lone POST /jobs answers
                };
                accepted += answers[valid[k].Item].Status == StatusCodes.Status202Accepted ? 1 : 0;
            }

            telemetry.Submitted.Add(accepted);
        }

        return TypedResults.Ok(answers);
    }

    // The client's request at the Api is where the job's trace starts; a malformed one is ignored.
    private static string? TraceParentOf(SubmitItem item) =>
        item.TraceParent is { } traceParent && ActivityContext.TryParse(traceParent, null, out _) ? traceParent : Activity.Current?.Id;

    private static SubmitItemAnswer Invalid(Dictionary<string, string[]> errors) =>
        Answer(StatusCodes.Status400BadRequest, new HttpValidationProblemDetails(errors) { Title = "The job is not valid.", Status = 400 });

    private static SubmitItemAnswer Answer(ProblemHttpResult problem) => Answer(problem.StatusCode, problem.ProblemDetails);

    private static SubmitItemAnswer Answer<T>(int status, T body) =>
        new(status, JsonSerializer.SerializeToElement(body, FlotillaJson.Options));
}
