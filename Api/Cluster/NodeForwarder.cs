using System.Net.Sockets;

namespace Flotilla.Api.Cluster;

/// <summary>
/// Thin front until the Api grows its own validation: passes the job routes to a node (any
/// node places writes through the leader) and returns the node's answer as it is. A request
/// moves on to the next node only if it could not be sent at all.
/// </summary>
internal static class NodeForwarder
{
    private static readonly string[] CopiedResponseHeaders = ["Location", "Retry-After"];

    public static IEndpointRouteBuilder MapForwardedRoutes(this IEndpointRouteBuilder app)
    {
        app.MapPost("/jobs", ForwardAsync);
        app.MapPost("/jobs/batch", ForwardAsync);
        app.MapPost("/new-job", ForwardAsync).DisableAntiforgery();
        app.MapGet("/jobs", ForwardAsync);
        app.MapGet("/jobs/{id}", ForwardAsync);
        app.MapPost("/jobs/{id}/cancel", ForwardAsync);
        app.MapGet("/cluster/health", ForwardAsync);
        return app;
    }

    private static async Task ForwardAsync(HttpContext context, NodeDirectory nodes, CancellationToken token)
    {
        // Buffer the body once so it can be sent again to another node if the first is down.
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, token);
        var target = context.Request.Path.Value!.TrimStart('/') + context.Request.QueryString;

        foreach (var node in nodes.InTryOrder())
        {
            using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri(node, target));
            if (body.Length > 0 || HttpMethods.IsPost(context.Request.Method))
            {
                request.Content = new ByteArrayContent(body.ToArray());
                if (context.Request.ContentType is { } contentType)
                {
                    request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
                }
            }

            HttpResponseMessage response;
            try
            {
                response = await nodes.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
            }
            catch (HttpRequestException ex) when (ex.InnerException is SocketException)
            {
                continue; // never reached the node: safe to try the next one
            }

            using (response)
            {
                nodes.Answered(node);
                context.Response.StatusCode = (int)response.StatusCode;
                foreach (var header in CopiedResponseHeaders)
                {
                    if (response.Headers.TryGetValues(header, out var values))
                    {
                        context.Response.Headers[header] = values.ToArray();
                    }
                }

                context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
                await response.Content.CopyToAsync(context.Response.Body, token);
                return;
            }
        }

        await Results.Problem("No node of the cluster is reachable.", statusCode: 503, title: "Cluster unavailable.").ExecuteAsync(context);
    }
}
