using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Flotilla.Node.Cluster;

/// <summary>
/// /health: healthy once this node is a voting member with its log and database loaded. It
/// must not require a leader: a node restarted with data sees none until a majority is up,
/// and the AppHost starts the next node only when this one is healthy. A node that cannot apply
/// committed entries (disk error) is unhealthy, with the reason.
/// </summary>
internal sealed class MembershipHealthCheck(RaftNode node) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(
            node.ApplyFault is { } fault ? HealthCheckResult.Unhealthy($"{node.NodeId} cannot apply committed entries: {fault}.")
            : node.IsMember ? HealthCheckResult.Healthy($"{node.NodeId} is a cluster member.")
            : HealthCheckResult.Unhealthy($"{node.NodeId} is not a member yet: {node.NotMemberReason}."));
}
