using Flotilla.Node.Cluster;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Flotilla.Node.Extensions;

/// <summary>
/// A quieter start. A joining node answers <c>/health</c> with 503 by design (the AppHost holds
/// the next node until this one is a member) and is probed every few seconds meanwhile; the
/// health-check service logs every unhealthy probe as an error, which the dashboard shows as red
/// badges on a node that is doing exactly what it should. While the node joins, those probes are
/// logged as information instead; once it is a member, an unhealthy check is an error again.
/// </summary>
internal sealed partial class JoiningHealthLog(RaftNode node, JoiningHealthLog.Progress progress, ILogger<JoiningHealthLog> logger) : IHealthCheck
{
    /// <summary>The category whose per-check "completed with status Unhealthy" lines are errors.</summary>
    private const string HealthCheckCategory = "Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService";

    private readonly MembershipHealthCheck _membership = new(node);

    /// <summary>The membership check as <c>cluster-membership</c>, and the log filter that goes with it.</summary>
    public static IHostApplicationBuilder AddMembershipHealthCheck(IHostApplicationBuilder builder)
    {
        var progress = new Progress();
        builder.Services.AddSingleton(progress);
        builder.Services.AddHealthChecks().AddCheck<JoiningHealthLog>("cluster-membership");
        // A rule for that one category. A rule without a category would be picked over the
        // configured "Default" level for every category, and, having no level of its own, let
        // Debug and Trace through everywhere (a line per run, per entry, per Raft round).
        builder.Logging.AddFilter(HealthCheckCategory, level => level >= LogLevel.Information && (level < LogLevel.Error || !progress.IsJoining));
        return builder;
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var result = await _membership.CheckHealthAsync(context, cancellationToken);
        progress.IsJoining = !node.IsMember && !node.State.StartsWith("failed", StringComparison.Ordinal);
        if (result.Status != HealthStatus.Healthy && progress.IsJoining)
        {
            LogNotReady(node.NodeId, result.Description ?? node.State);
        }

        return result;
    }

    [LoggerMessage(EventId = 1801, Level = LogLevel.Information, Message = "{NodeId} is not ready yet (expected while it joins): {Reason}")]
    private partial void LogNotReady(string nodeId, string reason);

    /// <summary>Whether the node was still starting or joining at its last health check (true until the first).</summary>
    internal sealed class Progress
    {
        private volatile bool _joining = true;

        public bool IsJoining
        {
            get => _joining;
            set => _joining = value;
        }
    }
}
