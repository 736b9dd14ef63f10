using System.Security.Cryptography;
using Flotilla.Client;
using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Flotilla.Node.Workflows;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Flotilla.Node.Apis;

/// <summary>
/// The workflow registry: modules are registered by name, stored once per SHA-256 and
/// replicated through the log, so every node can run every workflow.
/// </summary>
internal static class WorkflowsApi
{
    public const int MaxModuleBytes = JobRules.MaxModuleBytes;

    public static IEndpointRouteBuilder MapWorkflowsApi(this IEndpointRouteBuilder app)
    {
        var workflows = app.MapGroup("/workflows").WithTags("Workflows");
        workflows.MapPut("/{name}", RegisterAsync);
        workflows.MapGet("", List);
        return app;
    }

    private static async Task<Results<Ok<WorkflowView>, ValidationProblem, ProblemHttpResult>> RegisterAsync(
        string name, [FromQuery(Name = "timeout_ms")] int? timeoutMs, HttpRequest request, WasmRunner runner, Proposer proposer, JobStore store, CancellationToken token)
    {
        if (!JobRules.IsName(name))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["name"] = [JobRules.NameRule("name")] });
        }

        if (timeoutMs is < 1 or > JobRules.MaxTimeoutMs)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["timeout_ms"] = [JobRules.TimeoutRule] });
        }

        if (!string.Equals(request.ContentType?.Split(';')[0].Trim(), "application/wasm", StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem("Send the module as the body with Content-Type: application/wasm.", statusCode: 415, title: "Expected application/wasm.");
        }

        var (module, tooLarge) = await JsonRequestBody.ReadBytesAsync(request, MaxModuleBytes, token);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        if (module!.Length is 0 or > MaxModuleBytes)
        {
            return TypedResults.Problem($"The module must be 1 to {MaxModuleBytes} bytes.", statusCode: 400, title: "Bad module size.");
        }

        if (runner.Validate(module) is { } reason)
        {
            return TypedResults.Problem(reason, statusCode: 422, title: "The module cannot run as a workflow.");
        }

        var sha256 = Convert.ToHexStringLower(SHA256.HashData(module));
        return await proposer.ProposeAsync(new RegisterWorkflow(name, sha256, module, timeoutMs), token) switch
        {
            CountResult => TypedResults.Ok((store.ListWorkflows().FirstOrDefault(w => w.Name == name) ?? new WorkflowInfo(name, sha256, 0, timeoutMs)).ToContract(module.Length)),
            Rejected rejected => TypedResults.Problem(rejected.Reason, statusCode: 409, title: "The cluster rejected the module."),
            var other => TypedResults.Problem($"Unexpected result {other.GetType().Name}.", statusCode: 500),
        };
    }

    private static Ok<WorkflowView[]> List(JobStore store) =>
        TypedResults.Ok(store.ListWorkflows().Select(w => w.ToContract(null)).ToArray());
}
