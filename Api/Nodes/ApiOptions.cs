namespace Flotilla.Api.Nodes;

/// <summary>Settings of the Api (section <c>Api</c>); the node list itself is <c>Cluster:Nodes</c>.</summary>
internal sealed class ApiOptions
{
    public const string Section = "Api";

    /// <summary>How long a write may keep being retried (leader re-discovery, backoff) before the Api gives up.</summary>
    public TimeSpan WriteRetryBudget { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The first pause between write retries; it doubles up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a write waits for the nodes to name a new leader once the known one is gone,
    /// before it goes through any node instead (which forwards it). Sent to the leader, a write
    /// is answered as soon as it commits; through a follower, only once that follower has applied
    /// it too, a replication round later. Zero sends it through any node at once.
    /// </summary>
    public TimeSpan LeaderElectionWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the list of registered workflows (GET /workflows on a node) is reused.</summary>
    public TimeSpan WorkflowCacheTtl { get; set; } = TimeSpan.FromSeconds(5);
}
