using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Maintenance;

/// <summary>
/// Leader-only, like Hangfire's expiration and River's cleaner: finished jobs (completed,
/// failed, cancelled) older than <c>Jobs:Retention</c> are deleted by a replicated command, in
/// slices, so the store (and every snapshot) stops growing with history.
/// </summary>
internal sealed partial class RetentionCleaner(
    RaftNode node, JobStore store, Proposer proposer, TimeProvider time, IOptions<RetentionOptions> options, ILogger<RetentionCleaner> logger)
    : BackgroundService
{
    private const int Slice = 5_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CheckEvery, time);
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
        var retention = (long)options.Value.Retention.TotalMilliseconds;
        while (node.Cluster?.Leader is { IsRemote: false }
            && store.OldestFinishedAt() is { } oldest
            && oldest < time.GetUtcNow().ToUnixTimeMilliseconds() - retention)
        {
            var purged = await proposer.ProposeAsync(new PurgeFinishedJobs(retention, Slice), token).ConfigureAwait(false);
            if (purged is not CountResult { Count: var count } || count == 0)
            {
                return;
            }

            LogPurged(count);
        }
    }

    [LoggerMessage(EventId = 2301, Level = LogLevel.Information, Message = "Deleted {Count} finished job(s) past their retention")]
    private partial void LogPurged(int count);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Debug, Message = "Retention deferred: {Reason}")]
    private partial void LogDeferred(string reason);
}

/// <summary>The <c>Jobs:*</c> settings: how long finished jobs are kept.</summary>
internal sealed class RetentionOptions
{
    public const string Section = "Jobs";

    /// <summary>Finished jobs older than this (by their last update) are deleted. Default one day.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How often the leader looks for finished jobs past their retention.</summary>
    public TimeSpan CheckEvery { get; set; } = TimeSpan.FromMinutes(1);
}
