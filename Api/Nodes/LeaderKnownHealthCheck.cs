using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Flotilla.Api.Nodes;

/// <summary>
/// The Api is healthy once some node reports a leader: from then on writes can be placed.
/// (The nodes' own /health only says "member"; a leader needs a majority.)
/// </summary>
internal sealed class LeaderKnownHealthCheck(LeaderLocator leader) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        await leader.FirstWithLeaderAsync(cancellationToken) is { } found
            ? HealthCheckResult.Healthy($"{found.Node} reports leader {found.Health.Leader}.")
            : HealthCheckResult.Unhealthy("No node reports a leader yet.");
}
