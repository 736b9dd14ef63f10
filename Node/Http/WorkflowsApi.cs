using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Flotilla.Node.Workflows;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Flotilla.Node.Http;

/// <summary>
/// The workflow registry: modules are registered by name, stored once per SHA-256 and
/// replicated through the log, so every node can run every workflow.
/// </summary>
internal static partial class WorkflowsApi
{
    public const int MaxModuleBytes = 16 * 1024 * 1024;

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
        if (!NamePattern().IsMatch(name))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["name"] = ["name must be 1-64 characters of a-z, A-Z, 0-9, '.', '_' or '-'."],
            });
        }

        if (timeoutMs is < 1 or > 24 * 3600 * 1000)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["timeout_ms"] = ["timeout_ms must be between 1 and 86400000."] });
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
            CountResult => TypedResults.Ok(WorkflowView.From(store.ListWorkflows().FirstOrDefault(w => w.Name == name) ?? new WorkflowInfo(name, sha256, 0, timeoutMs), module.Length)),
            Rejected rejected => TypedResults.Problem(rejected.Reason, statusCode: 409, title: "The cluster rejected the module."),
            var other => TypedResults.Problem($"Unexpected result {other.GetType().Name}.", statusCode: 500),
        };
    }

    private static Ok<WorkflowView[]> List(JobStore store) =>
        TypedResults.Ok(store.ListWorkflows().Select(w => WorkflowView.From(w, null)).ToArray());

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex NamePattern();
}

/// <summary>A registered workflow as the HTTP contract shows it.</summary>
internal sealed record WorkflowView(string Name, string Sha256, DateTimeOffset RegisteredAt, int? TimeoutMs, int? SizeBytes)
{
    public static WorkflowView From(WorkflowInfo info, int? size) =>
        new(info.Name, info.Sha256, DateTimeOffset.FromUnixTimeMilliseconds(info.RegisteredAt), info.TimeoutMs, size);
}
