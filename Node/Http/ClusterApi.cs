using System.Net;
using System.Net.Http.Json;
using DotNext.Net.Cluster.Consensus.Raft;
using Flotilla.Client;
using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Flotilla.Node.Http;

/// <summary>
/// Cluster routes: the public <c>GET /cluster/health</c>, and the node-to-node routes for joining
/// and for followers' forwarded writes.
/// </summary>
internal static partial class ClusterApi
{
    public static IEndpointRouteBuilder MapClusterApi(this IEndpointRouteBuilder app)
    {
        var cluster = app.MapGroup("/cluster").WithTags("Cluster");
        cluster.MapGet("/health", GetHealthAsync);
        cluster.MapGet("/state", GetState);
        cluster.MapGet("/queue", GetQueue);
        cluster.MapPost("/leadership/resign", ResignAsync);
        cluster.MapPost("/members", AddMemberAsync).ExcludeFromDescription();
        cluster.MapPost("/propose", ProposeAsync).ExcludeFromDescription();
        return app;
    }

    private static async Task<Ok<ClusterHealthView>> GetHealthAsync(RaftNode node, CancellationToken token) =>
        TypedResults.Ok((await ClusterHealth.OfAsync(node, token)).ToContract());

    /// <summary>The leader steps down and the cluster elects again (the dashboard's "Step down"); 409 on a follower.</summary>
    private static async Task<Results<Ok<ClusterHealthView>, Conflict<ProblemDetails>>> ResignAsync(RaftNode node, CancellationToken token)
    {
        if (node.Cluster is not { Leader: { IsRemote: false } } cluster)
        {
            return TypedResults.Conflict(new ProblemDetails
            {
                Title = "This node is not the leader.",
                Detail = $"{node.NodeId} does not lead now; ask the leader to step down.",
                Status = 409,
            });
        }

        // RaftCluster implements resigning through ICluster only.
        await ((DotNext.Net.Cluster.ICluster)cluster).ResignAsync(token);
        return TypedResults.Ok((await ClusterHealth.OfAsync(node, token)).ToContract());
    }

    /// <summary>Applied index and a checksum of the replicated tables: equal on nodes that applied the same log.</summary>
    private static Ok<StoreState> GetState(RaftNode node, JobStore store) =>
        TypedResults.Ok(new StoreState(node.NodeId, store.AppliedIndex, store.Checksum(), store.CountByStatus()));

    /// <summary>Unfinished work in this node's copy, cheap to poll (unlike /cluster/state, which hashes every row).</summary>
    private static Ok<QueueState> GetQueue(RaftNode node, JobStore store)
    {
        var (pending, running) = store.CountUnfinished();
        return TypedResults.Ok(new QueueState(node.NodeId, store.AppliedIndex, pending, running));
    }

    private static async Task<IResult> AddMemberAsync(
        JoinRequest join, HttpRequest request, RaftNode node, ClusterHttp http, ILoggerFactory loggers, CancellationToken token)
    {
        EndPoint endPoint;
        try
        {
            endPoint = ClusterOptions.ParseEndPoint(join.Endpoint);
        }
        catch (Exception ex) when (ex is FormatException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            return TypedResults.Problem($"'{join.Endpoint}' is not a host:port Raft endpoint.", statusCode: 400, title: "Bad endpoint.");
        }

        var cluster = node.Cluster;
        var leader = cluster?.Leader;
        if (cluster is null || leader is null)
        {
            return NoLeader("No leader is known yet.");
        }

        if (leader.IsRemote)
        {
            return await ForwardJoinAsync(join, request, leader, http, token);
        }

        if (cluster.Members.Any(m => m.EndPoint.Equals(endPoint)))
        {
            return TypedResults.Ok(new JoinResponse(true, cluster.Members.Count));
        }

        var logger = loggers.CreateLogger(typeof(ClusterApi));
        LogAdding(logger, join.NodeId ?? "?", join.Endpoint);
        try
        {
            // Catches the new member up, then commits the new configuration.
            return await cluster.AddMemberAsync(endPoint, token)
                ? TypedResults.Ok(new JoinResponse(false, cluster.Members.Count))
                : NoLeader("The membership change did not commit; retry.");
        }
        catch (Exception ex) when (ex is NotLeaderException or RaftProtocolException or OperationCanceledException && !token.IsCancellationRequested)
        {
            // Two joins at once fail with a concurrent-membership error: the joiner retries with backoff.
            return NoLeader(ex.Message);
        }
    }

    private static async Task<IResult> ForwardJoinAsync(
        JoinRequest join, HttpRequest request, RaftClusterMember leader, ClusterHttp http, CancellationToken token)
    {
        var hops = HopsOf(request);
        if (hops >= ClusterHttp.MaxHops)
        {
            return NoLeader("The join was forwarded too often.");
        }

        var metadata = await leader.GetMetadataAsync(false, token);
        using var forward = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(metadata[MetadataKeys.HttpUrl]), "cluster/members"))
        {
            Content = JsonContent.Create(join, options: ClusterHttp.Json),
        };
        forward.Headers.Add(ClusterHttp.HopsHeader, (hops + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            using var response = await http.Client.SendAsync(forward, token);
            var text = await response.Content.ReadAsStringAsync(token);
            return Results.Text(text, "application/json", statusCode: (int)response.StatusCode);
        }
        catch (HttpRequestException ex)
        {
            return NoLeader("The leader is unreachable: " + ex.Message);
        }
    }

    private static async Task<IResult> ProposeAsync(ProposeRequest proposal, HttpRequest request, Proposer proposer, CancellationToken token)
    {
        // Checked here, before the group commit: a malformed forwarded batch is a 400 for its
        // sender and never strands the proposals it would have shared an entry with.
        if (proposal.Commands is not { Count: > 0 } commands)
        {
            return TypedResults.Problem("no commands", statusCode: 400, title: "The command is not valid.");
        }

        if (commands.Select(CommandRules.Check).FirstOrDefault(p => p is not null) is { } problem)
        {
            return TypedResults.Problem(problem, statusCode: 400, title: "The command is not valid.");
        }

        var proposed = await proposer.ProposeAsync(commands, HopsOf(request), token);
        return TypedResults.Json(new ProposeResponse(proposed.Results, proposed.Index), CommandCodec.Options);
    }

    private static int HopsOf(HttpRequest request) =>
        int.TryParse(request.Headers[ClusterHttp.HopsHeader], out var hops) ? hops : 0;

    private static ProblemHttpResult NoLeader(string detail) =>
        TypedResults.Problem(detail, statusCode: 503, title: "The cluster cannot take this change right now.");

    [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "Adding {NodeId} at {EndPoint} to the cluster")]
    private static partial void LogAdding(ILogger logger, string nodeId, string endPoint);
}

internal sealed record JoinResponse(bool AlreadyMember, int NodeCount);

internal sealed record QueueState(string NodeId, long AppliedIndex, long Pending, long Running);

internal sealed record StoreState(string NodeId, long AppliedIndex, string Checksum, IReadOnlyDictionary<Store.JobStatus, long> Jobs);
