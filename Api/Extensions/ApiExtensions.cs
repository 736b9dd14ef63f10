using Flotilla.Api.Cluster;
using Microsoft.AspNetCore.Diagnostics;

namespace Flotilla.Api.Extensions;

internal static class ApiExtensions
{
    /// <summary>The Api's parts: where the nodes are, how to reach the leader, the workflow catalog, OpenAPI.</summary>
    public static IHostApplicationBuilder AddFlotillaApi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<NodeDirectory>();
        builder.Services.AddSingleton<ClusterClient>();
        builder.Services.AddSingleton<WorkflowCatalog>();
        builder.Services.AddHealthChecks().AddCheck<LeaderKnownHealthCheck>("cluster-leader");
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<UnreachableClusterHandler>();
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Flotilla";
            document.Info.Description = "A distributed background-job system: submit jobs, register WebAssembly workflows, watch the cluster.";
            return Task.CompletedTask;
        }));
        return builder;
    }
}

/// <summary>No node reachable at all: a 503 problem, so clients back off and retry.</summary>
internal sealed class UnreachableClusterHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not HttpRequestException)
        {
            return false;
        }

        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "1";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = 503, Title = "The cluster is unreachable.", Detail = exception.Message },
        });
    }
}
