using DotNext.Net.Cluster.Consensus.Raft;

namespace Flotilla.Node.Cluster;

/// <summary>
/// <c>GET /cluster/health</c>. <c>is_healthy</c> means member and leader known: the state in
/// which this node can take writes (what the Api waits for). Membership alone is /health.
/// </summary>
internal sealed record ClusterHealth(
    bool IsHealthy,
    int NodeCount,
    bool HasLeader,
    string? Leader,
    long Term,
    long CommitIndex,
    string NodeId,
    string State,
    IReadOnlyList<string> Members)
{
    public static ClusterHealth Of(RaftNode node)
    {
        var cluster = node.Cluster;
        if (cluster is null)
        {
            return new ClusterHealth(false, 0, false, null, 0, 0, node.NodeId, node.State, []);
        }

        var leader = cluster.Leader;
        var leaderName = leader is null ? null : NameOf(leader);
        return new ClusterHealth(
            node.IsMember && leader is not null,
            cluster.Members.Count,
            leader is not null,
            leaderName,
            cluster.Term,
            cluster.AuditTrail.LastCommittedEntryIndex,
            node.NodeId,
            node.State,
            cluster.Members.Select(NameOf).Order().ToArray());
    }

    // Metadata is cached after the first exchange with a member; until then show its endpoint.
    private static string NameOf(RaftClusterMember member)
    {
        var metadata = member.GetMetadataAsync(false, CancellationToken.None).AsTask();
        return metadata.IsCompletedSuccessfully && metadata.Result.TryGetValue(MetadataKeys.NodeId, out var id)
            ? id
            : member.EndPoint.ToString()!;
    }
}
