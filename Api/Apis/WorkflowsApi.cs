using System.Net;
using Flotilla.Api.Nodes;
using Flotilla.Api.Security;
using Flotilla.Api.Workflows;
using Flotilla.Client;
using Flotilla.Node.Apis;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Flotilla.Api.Apis;

/// <summary>Registering WebAssembly workflows (a write, through the leader) and listing them.</summary>
internal static class WorkflowsApi
{
    public const string WasmContentType = "application/wasm";

    /// <summary>Largest module the Api takes; the nodes compile and replicate it, so it stays well below their request limit.</summary>
    public const int MaxModuleBytes = JobRules.MaxModuleBytes;

    private static readonly byte[] WasmMagic = [0x00, 0x61, 0x73, 0x6D];

    public static RouteGroupBuilder MapWorkflowsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/workflows").WithTags("Workflows").ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapPut("/{name}", RegisterAsync).Accepts<byte[]>(WasmContentType).ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .RequireAuthorization(ApiScopes.WorkflowsAdmin).RequireRateLimiting(WriteRateLimitExtensions.Policy);
        api.MapGet("", ListAsync).RequireAuthorization(ApiScopes.JobsRead);
        return api;
    }

    private static async Task<Results<Ok<WorkflowView>, Created<WorkflowView>, ValidationProblem, ProblemHttpResult>> RegisterAsync(
        string name, [FromQuery(Name = "timeout_ms")] int? timeoutMs, HttpRequest request, NodeClient nodes, WorkflowCatalog workflows, CancellationToken token)
    {
        if (!JobRules.IsName(name))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["name"] = [JobRules.NameRule("name")] });
        }

        // The node's rule and message for the workflow's default timeout; the value goes on to the node.
        if (timeoutMs is < 1 or > 24 * 3600 * 1000)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["timeout_ms"] = ["timeout_ms must be between 1 and 86400000."] });
        }

        if (!string.Equals(request.ContentType?.Split(';')[0].Trim(), WasmContentType, StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem($"Send the module as {WasmContentType}.", statusCode: 415, title: "Expected a WebAssembly module.");
        }

        var (body, tooLarge) = await JsonRequestBody.ReadBytesAsync(request, MaxModuleBytes, token);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        // Only the cheap check: whether it compiles and has _start is for the node's engine to say.
        if (!body.AsSpan().StartsWith(WasmMagic))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["body"] = ["the body is not a WebAssembly module (it must start with \\0asm)."],
            });
        }

        var query = timeoutMs is { } ms ? $"?timeout_ms={ms.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : "";
        var answer = await nodes.WriteAsync(HttpMethod.Put, $"workflows/{name}{query}", body, WasmContentType, token);
        switch (answer.Status)
        {
            case HttpStatusCode.OK:
                workflows.Invalidate();
                return TypedResults.Ok(answer.Read<WorkflowView>());
            case HttpStatusCode.Created:
                workflows.Invalidate();
                return TypedResults.Created(answer.Location ?? $"/workflows/{name}", answer.Read<WorkflowView>());
            default:
                return NodeResults.Problem(answer, request.HttpContext.Response);
        }
    }

    private static async Task<Results<Ok<WorkflowView[]>, ProblemHttpResult>> ListAsync(HttpResponse response, NodeClient nodes, CancellationToken token)
    {
        var answer = await nodes.ReadAsync("workflows", token);
        return answer.Status == HttpStatusCode.OK
            ? TypedResults.Ok(answer.Read<WorkflowView[]>())
            : NodeResults.Problem(answer, response);
    }
}
