using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Flotilla.Api.Cluster;

/// <summary>
/// The Api is healthy once some node reports a leader: from then on writes can be placed.
/// (The nodes' own /health only says "member"; a leader needs a majority.)
/// </summary>
internal sealed class LeaderKnownHealthCheck(NodeDirectory nodes) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        foreach (var node in nodes.InTryOrder())
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                var health = await nodes.Client.GetFromJsonAsync<JsonElement>(new Uri(node, "cluster/health"), timeout.Token);
                if (health.TryGetProperty("has_leader", out var hasLeader) && hasLeader.GetBoolean())
                {
                    return HealthCheckResult.Healthy($"{node} reports leader {health.GetProperty("leader")}.");
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
            {
            }
        }

        return HealthCheckResult.Unhealthy("No node reports a leader yet.");
    }
}
