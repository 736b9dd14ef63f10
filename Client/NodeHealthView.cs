namespace Flotilla.Client;

/// <summary>One configured node as the Api reaches it (<c>GET /cluster/nodes</c> on the Api).</summary>
/// <param name="Url">The node's HTTP base URL as the Api knows it.</param>
/// <param name="Reachable">Whether it answered <c>GET /cluster/health</c>.</param>
/// <param name="Health">Its answer, when it gave one.</param>
public sealed record NodeHealthView(string Url, bool Reachable, ClusterHealthView? Health);
