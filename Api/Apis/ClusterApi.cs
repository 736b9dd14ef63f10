using System.Net;
using Flotilla.Api.Nodes;
using Flotilla.Api.Security;
using Flotilla.Client;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Flotilla.Api.Apis;

/// <summary><c>GET /cluster/health</c> as some node sees it (the first that answers).</summary>
internal static class ClusterApi
{
    public static RouteGroupBuilder MapClusterApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/cluster").WithTags("Cluster").ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapGet("/health", GetHealthAsync).RequireAuthorization(ApiScopes.JobsRead);
        api.MapGet("/nodes", GetNodesAsync).RequireAuthorization(ApiScopes.JobsRead);
        return api;
    }

    /// <summary>Every configured node's own <c>/cluster/health</c>, asked in parallel; an unreachable node says so.</summary>
    private static async Task<Ok<NodeHealthView[]>> GetNodesAsync(NodeDirectory nodes, LeaderLocator leader, CancellationToken token) =>
        TypedResults.Ok(await Task.WhenAll(nodes.Nodes.Select(async node =>
        {
            var health = await leader.HealthOfAsync(node, token);
            return new NodeHealthView(node.ToString(), health is not null, health);
        })));

    private static async Task<Results<Ok<ClusterHealthView>, ProblemHttpResult>> GetHealthAsync(HttpResponse response, NodeClient nodes, CancellationToken token)
    {
        var answer = await nodes.ReadAsync("cluster/health", token);
        return answer.Status == HttpStatusCode.OK
            ? TypedResults.Ok(answer.Read<ClusterHealthView>())
            : NodeResults.Problem(answer, response);
    }
}
