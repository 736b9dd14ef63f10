using System.Net;
using System.Net.Http.Json;
using DotNext.Net.Cluster.Consensus.Raft;
using Flotilla.Client;
using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Flotilla.Node.Apis;

/// <summary>
/// Cluster routes: the public <c>GET /cluster/health</c>, and the node-to-node routes for joining,
/// removing a member and followers' forwarded writes. Every route here but <c>/cluster/health</c>
/// needs the cluster secret (<see cref="Security.ClusterSecretMiddleware"/>).
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
        cluster.MapDelete("/members/{id}", RemoveMemberAsync).ExcludeFromDescription();
        cluster.MapPost("/propose", ProposeAsync).ExcludeFromDescription();
        cluster.MapPost("/submit", SubmitItemsAsync).ExcludeFromDescription();
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
        return TypedResults.Ok(new QueueState(node.NodeId, store.AppliedIndex, pending, running, node.LastSnapshot));
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
            return await ForwardAsync(HttpMethod.Post, "cluster/members", JsonContent.Create(join, options: ClusterHttp.Json), request, leader, http, token);
        }

        if (cluster.Members.Any(m => m.EndPoint.Equals(endPoint)))
        {
            // A member with its data is restarting: nothing to change. An empty node on a member's
            // endpoint lost its log (and the votes and acknowledgements in it): letting it in as the
            // old member could undo a majority. It joins as a new member after the old is removed.
            return join.HasData == false
                ? TypedResults.Problem(
                    $"{join.Endpoint} is a member, but the joining node has no data: it is a lost member coming back empty. "
                        + $"Remove the old member first (DELETE /cluster/members/{join.Endpoint}); this node then joins as a new member.",
                    statusCode: 409,
                    title: "A lost member must be removed before it rejoins.")
                : TypedResults.Ok(new JoinResponse(true, cluster.Members.Count));
        }

        if (join.CheckOnly)
        {
            return TypedResults.Ok(new JoinResponse(false, cluster.Members.Count));
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

    /// <summary>
    /// <c>DELETE /cluster/members/{id}</c>: removes a member, on the leader (a follower forwards).
    /// <paramref name="id"/> is the member's Raft endpoint (<c>host:port</c>, always works) or its
    /// node id (works when this node has learnt the member's metadata, which a dead member may
    /// never have sent). The leader cannot remove itself: stop it and remove it from the next one.
    /// </summary>
    private static async Task<IResult> RemoveMemberAsync(
        string id, HttpRequest request, RaftNode node, ClusterHttp http, ILoggerFactory loggers, CancellationToken token)
    {
        var cluster = node.Cluster;
        var leader = cluster?.Leader;
        if (cluster is null || leader is null)
        {
            return NoLeader("No leader is known yet.");
        }

        if (leader.IsRemote)
        {
            return await ForwardAsync(HttpMethod.Delete, $"cluster/members/{Uri.EscapeDataString(id)}", null, request, leader, http, token);
        }

        if (await FindMemberAsync(cluster, id, token) is not { } member)
        {
            return TypedResults.Problem(
                $"No member is '{id}'. Give the member's Raft endpoint (host:port) as GET /cluster/health lists it, or its node id.",
                statusCode: 404,
                title: "No such member.");
        }

        if (!member.IsRemote)
        {
            return TypedResults.Problem(
                $"'{id}' is the leader. Stop it; once another node leads, remove it there.", statusCode: 409, title: "The leader cannot remove itself.");
        }

        LogRemoving(loggers.CreateLogger(typeof(ClusterApi)), id, member.EndPoint.ToString()!);
        try
        {
            return await cluster.RemoveMemberAsync(member.EndPoint, token)
                ? TypedResults.Ok(new MemberRemoved(member.EndPoint.ToString()!, cluster.Members.Count))
                : NoLeader("The membership change did not commit; retry.");
        }
        catch (Exception ex) when (ex is NotLeaderException or RaftProtocolException or OperationCanceledException && !token.IsCancellationRequested)
        {
            return NoLeader(ex.Message);
        }
    }

    private static async Task<RaftClusterMember?> FindMemberAsync(RaftCluster cluster, string id, CancellationToken token)
    {
        EndPoint? endPoint = null;
        try
        {
            endPoint = ClusterOptions.ParseEndPoint(id);
        }
        catch (Exception ex) when (ex is FormatException or System.Net.Sockets.SocketException or InvalidOperationException or ArgumentException)
        {
        }

        var members = cluster.Members.ToArray();
        if (members.FirstOrDefault(m => m.EndPoint.Equals(endPoint) || m.EndPoint.ToString() == id) is { } byEndPoint)
        {
            return byEndPoint;
        }

        foreach (var member in members)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                timeout.CancelAfter(TimeSpan.FromMilliseconds(500));
                var metadata = await member.GetMetadataAsync(false, timeout.Token);
                if (metadata.TryGetValue(MetadataKeys.NodeId, out var nodeId) && nodeId == id)
                {
                    return member;
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or System.Net.Sockets.SocketException or IOException && !token.IsCancellationRequested)
            {
                // Unreachable and never asked before: only its endpoint names it.
            }
        }

        return null;
    }

    /// <summary>Sends a membership request on to the leader, with the hop count (the secret rides on the shared client).</summary>
    private static async Task<IResult> ForwardAsync(
        HttpMethod method, string path, HttpContent? content, HttpRequest request, RaftClusterMember leader, ClusterHttp http, CancellationToken token)
    {
        var hops = HopsOf(request);
        if (hops >= ClusterHttp.MaxHops)
        {
            return NoLeader("The request was forwarded too often.");
        }

        var metadata = await leader.GetMetadataAsync(false, token);
        using var forward = new HttpRequestMessage(method, new Uri(new Uri(metadata[MetadataKeys.HttpUrl]), path)) { Content = content };
        forward.Headers.Add(ClusterHttp.HopsHeader, (hops + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            using var response = await http.Client.SendAsync(forward, token);
            var text = await response.Content.ReadAsStringAsync(token);
            var type = response.Content.Headers.ContentType?.MediaType ?? "application/json";
            return Results.Text(text, type, statusCode: (int)response.StatusCode);
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

    [LoggerMessage(EventId = 1502, Level = LogLevel.Warning, Message = "Removing member {Id} ({EndPoint}) from the cluster")]
    private static partial void LogRemoving(ILogger logger, string id, string endPoint);
}

internal sealed record JoinResponse(bool AlreadyMember, int NodeCount);

internal sealed record MemberRemoved(string Removed, int NodeCount);

/// <summary><c>GET /cluster/queue</c>: unfinished work, and the last snapshot this node wrote (how long it held up apply).</summary>
internal sealed record QueueState(string NodeId, long AppliedIndex, long Pending, long Running, SnapshotTiming? LastSnapshot);

internal sealed record StoreState(string NodeId, long AppliedIndex, string Checksum, IReadOnlyDictionary<Store.JobStatus, long> Jobs);
