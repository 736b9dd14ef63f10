using Flotilla.Api.Cluster;

namespace Flotilla.Api.Apis;

internal static class ClusterApi
{
    public static IEndpointRouteBuilder MapClusterApiV1(this IEndpointRouteBuilder app)
    {
        app.MapGet("/cluster/health", GetHealthAsync).WithTags("Cluster").Produces(200);
        return app;
    }

    /// <summary>The first reachable node's view of the cluster.</summary>
    private static async Task<IResult> GetHealthAsync(ClusterClient cluster, CancellationToken token) =>
        new RelayedResponse(await cluster.ReadAsync(node => new HttpRequestMessage(HttpMethod.Get, new Uri(node, "cluster/health")), token));
}
