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
internal sealed partial class LeaseRescuer(
    RaftNode node, JobStore store, Proposer proposer, TimeProvider time, IOptions<WorkerOptions> options, ILogger<LeaseRescuer> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = TimeSpan.FromMilliseconds(Math.Clamp(options.Value.LeaseMs / 10, 100, 1_000));
        using var timer = new PeriodicTimer(every, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogDeferred(ex.Message);
            }
        }
    }

    public async Task RunOnceAsync(CancellationToken token)
    {
        if (node.Cluster?.Leader is not { IsRemote: false })
        {
            return;
        }

        if (store.NextLeaseExpiry() is { } expiry && expiry <= time.GetUtcNow().ToUnixTimeMilliseconds()
            && await proposer.ProposeAsync(new RescueExpiredLeases(), token).ConfigureAwait(false) is CountResult { Count: > 0 } rescued)
        {
            LogRescued(rescued.Count);
        }
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Rescued {Count} job(s) whose lease expired")]
    private partial void LogRescued(int count);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Debug, Message = "Lease rescue deferred: {Reason}")]
    private partial void LogDeferred(string reason);
}
