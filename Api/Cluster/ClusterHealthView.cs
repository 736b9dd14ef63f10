using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Api.Cluster;

/// <summary>
/// A node's <c>GET /cluster/health</c>. <c>leader_url</c> (the leader's HTTP base URL) is newer
/// than the rest and may be missing; fields the Api does not know yet are kept and passed on.
/// </summary>
internal sealed record ClusterHealthView(
    bool IsHealthy,
    int NodeCount,
    bool HasLeader,
    string? Leader,
    long Term,
    long CommitIndex,
    string? NodeId,
    string? LeaderUrl)
{
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; init; }
}
