using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Client;

/// <summary>
/// <c>GET /cluster/health</c> as one node sees the cluster. <see cref="IsHealthy"/> means this node
/// is a member and a leader is known: writes can be placed.
/// </summary>
/// <param name="IsHealthy">Member and leader known.</param>
/// <param name="NodeCount">Members in the configuration.</param>
/// <param name="HasLeader">A leader is known.</param>
/// <param name="Leader">The leader's node id (or Raft endpoint when its name is not known).</param>
/// <param name="LeaderUrl">The leader's HTTP base URL, when known.</param>
/// <param name="Term">The current Raft term.</param>
/// <param name="CommitIndex">The last committed log index this node knows.</param>
/// <param name="NodeId">The answering node.</param>
/// <param name="State">The answering node's state (<c>member</c>, <c>joining</c>, ...).</param>
/// <param name="Members">Node ids (or endpoints) of every member.</param>
public sealed record ClusterHealthView(
    bool IsHealthy,
    int NodeCount,
    bool HasLeader,
    string? Leader,
    string? LeaderUrl,
    long Term,
    long CommitIndex,
    string NodeId,
    string? State,
    IReadOnlyList<string>? Members)
{
    /// <summary>Fields a newer server sends that this version does not know.</summary>
    [JsonExtensionData]
    public IDictionary<string, JsonElement>? Extra { get; init; }
}
