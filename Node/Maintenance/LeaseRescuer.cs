using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Flotilla.Node.Worker;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Maintenance;

/// <summary>
/// Leader-only maintenance: when a running job's lease has run out (its node died or was cut
/// off), proposes RescueExpiredLeases, which hands the job back for a retry or fails it after
/// its last attempt. Looks at the local copy first, so a healthy queue costs no log entries.
/// </summary>
/// <remarks>
/// Expiry is judged by leader-stamped entry times, and a lease last stamped by an earlier leader
/// was stamped by another clock: a new leader whose clock runs ahead would find live leases
/// expired at once. So a leader rescues nothing until it has led for a full lease by its own
/// monotonic clock. By then every live worker (which renews every third of a lease) has renewed
/// through this leader, so every live lease carries this leader's time; what is still expired
/// was not renewed for a whole lease. The cost: after a failover, a dead node's jobs wait up to
/// one lease longer.
/// </remarks>
internal sealed partial class LeaseRescuer(
    RaftNode node, JobStore store, Proposer proposer, TimeProvider time, IOptions<WorkerOptions> options, ILogger<LeaseRescuer> logger)
    : PeriodicMaintenance(time, logger)
{
    protected override TimeSpan Every => TimeSpan.FromMilliseconds(Math.Clamp(options.Value.LeaseMs / 10, 100, 1_000));

    public override async Task RunOnceAsync(CancellationToken token)
    {
        if (node.TimeInOffice is not { } inOffice || inOffice < TimeSpan.FromMilliseconds(Math.Max(options.Value.LeaseMs, store.LongestOfferedLeaseMs())))
        {
            return;
        }

        if (store.NextLeaseExpiry() is { } expiry && expiry <= Time.GetUtcNow().ToUnixTimeMilliseconds()
            && await proposer.ProposeAsync(new RescueExpiredLeases(), token).ConfigureAwait(false) is CountResult { Count: > 0 } rescued)
        {
            LogRescued(rescued.Count);
        }
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Rescued {Count} job(s) whose lease expired")]
    private partial void LogRescued(int count);

}
