using DotNext.Net.Cluster.Consensus.Raft;

namespace Flotilla.Node.Cluster;

/// <summary>
/// <c>GET /cluster/health</c>. <c>is_healthy</c> means member, leader known and applying: the
/// state in which this node can take writes (what the Api waits for). Membership alone is /health.
/// A node whose applies fail reports <c>state</c> "cannot apply committed entries: …" with the reason.
/// </summary>
internal sealed record ClusterHealth(
    bool IsHealthy,
    int NodeCount,
    bool HasLeader,
    string? Leader,
    string? LeaderUrl,
    long Term,
    long CommitIndex,
    string NodeId,
    string State,
    IReadOnlyList<string> Members)
{
    public static async Task<ClusterHealth> OfAsync(RaftNode node, CancellationToken token)
    {
        var cluster = node.Cluster;
        if (cluster is null)
        {
            return new ClusterHealth(false, 0, false, null, null, 0, 0, node.NodeId, node.State, []);
        }

        var leader = cluster.Leader;
        var members = await Task.WhenAll(cluster.Members.Select(m => NameOfAsync(m, token)));
        var leaderMetadata = leader is null ? null : await MetadataOfAsync(leader, token);
        // A node that cannot apply committed entries (a disk error) is not healthy, and says why.
        var fault = node.ApplyFault;
        return new ClusterHealth(
            node.IsMember && leader is not null && fault is null,
            cluster.Members.Count,
            leader is not null,
            leader is null ? null : leaderMetadata?.GetValueOrDefault(MetadataKeys.NodeId) ?? leader.EndPoint.ToString(),
            leaderMetadata?.GetValueOrDefault(MetadataKeys.HttpUrl),
            cluster.Term,
            cluster.AuditTrail.LastCommittedEntryIndex,
            node.NodeId,
            fault is null ? node.State : "cannot apply committed entries: " + fault,
            members.Order().ToArray());
    }

    private static async Task<string> NameOfAsync(RaftClusterMember member, CancellationToken token) =>
        (await MetadataOfAsync(member, token))?.GetValueOrDefault(MetadataKeys.NodeId) ?? member.EndPoint.ToString()!;

    // A member's name and URL travel as Raft metadata, fetched once and cached; an unreachable
    // member is shown by its endpoint rather than holding up the health answer.
    private static async Task<IReadOnlyDictionary<string, string>?> MetadataOfAsync(RaftClusterMember member, CancellationToken token)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(TimeSpan.FromMilliseconds(500));
            return await member.GetMetadataAsync(false, timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.Sockets.SocketException or IOException)
        {
            return null;
        }
    }
}
