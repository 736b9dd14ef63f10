namespace Flotilla.Node.Maintenance;

/// <summary>
/// The shape of a maintenance service, as River's are: a timer calling <see cref="RunOnceAsync"/>;
/// one failed round (no leader, a lost answer) is logged and the next round tries again, so the
/// service outlives any one failure.
/// </summary>
internal abstract class PeriodicMaintenance(TimeProvider time, ILogger logger) : BackgroundService
{
    /// <summary>The clock the rounds and their checks read.</summary>
    protected TimeProvider Time { get; } = time;

    /// <summary>How long between rounds.</summary>
    protected abstract TimeSpan Every { get; }

    /// <summary>One round: look at the local copy, propose only when there is something to do.</summary>
    public abstract Task RunOnceAsync(CancellationToken token);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Every, Time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                MaintenanceLog.Deferred(logger, GetType().Name, ex.Message);
            }
        }
    }
}

internal static partial class MaintenanceLog
{
    [LoggerMessage(EventId = 2401, Level = LogLevel.Debug, Message = "{Service} deferred its round: {Reason}")]
    public static partial void Deferred(ILogger logger, string service, string reason);
}
