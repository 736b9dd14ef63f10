using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Flotilla.Node.Cluster;

/// <summary>
/// /health: healthy once this node is a voting member with its log and database loaded. It
/// must not require a leader: a node restarted with data sees none until a majority is up,
/// and the AppHost starts the next node only when this one is healthy.
/// </summary>
internal sealed class MembershipHealthCheck(RaftNode node) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(node.IsMember
            ? HealthCheckResult.Healthy($"{node.NodeId} is a cluster member.")
            : HealthCheckResult.Unhealthy($"{node.NodeId} is not a member yet: {node.State}."));
}
