using Flotilla.Node.Cluster;
using Flotilla.Node.Store;

namespace Flotilla.Node.Maintenance;

/// <summary>
/// Leader-only: every applied entry already hands due jobs to workers with free credit, so the
/// one thing left is time. When a delayed job's or a retry's run_at passes while a live worker
/// has credit, proposes <see cref="AssignDue"/>. Looks at the local copy first, and the check is
/// the very condition apply acts on, so it never proposes an entry that assigns nothing twice.
/// </summary>
internal sealed partial class DueJobScheduler(RaftNode node, JobStore store, Proposer proposer, TimeProvider time, ILogger<DueJobScheduler> logger)
    : BackgroundService
{
    // How late a delayed job may start at most (Hangfire's scheduler polls every 15 s). Not woken
    // by every applied entry: at thousands of entries a second the checks themselves cost.
    private static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(250);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
                await Task.Delay(NextWait(), time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogDeferred(ex.Message);
                await Task.Delay(MaxWait, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    public async Task RunOnceAsync(CancellationToken token)
    {
        if (node.Cluster?.Leader is not { IsRemote: false })
        {
            return;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (store.NextPendingRunAt() is { } due && due <= now && store.FreeCredit(now) > 0)
        {
            await proposer.ProposeAsync(new AssignDue(), token).ConfigureAwait(false);
        }
    }

    private TimeSpan NextWait()
    {
        if (store.NextPendingRunAt() is not { } due)
        {
            return MaxWait;
        }

        var until = TimeSpan.FromMilliseconds(due - time.GetUtcNow().ToUnixTimeMilliseconds());
        return until <= TimeSpan.Zero ? MaxWait : (until < MaxWait ? until : MaxWait);
    }

    [LoggerMessage(EventId = 2201, Level = LogLevel.Debug, Message = "Due-job assignment deferred: {Reason}")]
    private partial void LogDeferred(string reason);
}
