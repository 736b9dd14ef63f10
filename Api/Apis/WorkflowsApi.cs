using System.Net.Http.Headers;
using Flotilla.Api.Cluster;

namespace Flotilla.Api.Apis;

/// <summary>The workflow registry routes: register a module by name, list what is registered.</summary>
internal static class WorkflowsApi
{
    public const int MaxModuleBytes = 16 * 1024 * 1024;

    public static IEndpointRouteBuilder MapWorkflowsApiV1(this IEndpointRouteBuilder app)
    {
        var workflows = app.MapGroup("/workflows").WithTags("Workflows");
        workflows.MapPut("/{name}", RegisterAsync).Accepts<byte[]>("application/wasm").Produces(200).ProducesProblem(415).ProducesProblem(422);
        workflows.MapGet("", ListAsync).Produces(200);
        return app;
    }

    private static async Task<IResult> RegisterAsync(
        string name, HttpRequest request, ClusterClient cluster, WorkflowCatalog catalog, CancellationToken token)
    {
        if (!string.Equals(request.ContentType, "application/wasm", StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem("Send the module as the body with Content-Type: application/wasm.", statusCode: 415, title: "Expected application/wasm.");
        }

        if (request.ContentLength > MaxModuleBytes)
        {
            return TypedResults.Problem($"A module may be at most {MaxModuleBytes} bytes.", statusCode: 413, title: "Module too large.");
        }

        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, token);
        var module = buffer.ToArray();
        var response = await cluster.WriteAsync(
            node => new HttpRequestMessage(HttpMethod.Put, new Uri(node, $"workflows/{Uri.EscapeDataString(name)}{request.QueryString}"))
            {
                Content = new ByteArrayContent(module) { Headers = { ContentType = new MediaTypeHeaderValue("application/wasm") } },
            },
            token);
        catalog.Invalidate();
        return new RelayedResponse(response);
    }

    private static async Task<IResult> ListAsync(ClusterClient cluster, CancellationToken token) =>
        new RelayedResponse(await cluster.ReadAsync(node => new HttpRequestMessage(HttpMethod.Get, new Uri(node, "workflows")), token));
}
