using System.Collections.Concurrent;
using System.Diagnostics;
using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Flotilla.Node.Telemetry;
using Flotilla.Node.Workflows;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Worker;

/// <summary>
/// The node's worker: claims due jobs for its free slots, runs each as a WebAssembly workflow,
/// renews the leases of long runs, and completes or fails them with fencing (job, node,
/// attempt). It wakes when a commit is applied locally (every node applies every commit),
/// when the next run_at falls due, and on a fallback timer.
/// </summary>
internal sealed partial class JobWorker(
    RaftNode node,
    JobStore store,
    Proposer proposer,
    WasmRunner runner,
    FlotillaTelemetry telemetry,
    TimeProvider time,
    IOptions<WorkerOptions> options,
    ILogger<JobWorker> logger) : BackgroundService
{
    private readonly WorkerOptions _options = options.Value;
    private readonly WakeSignal _wake = new();
    private readonly ConcurrentDictionary<string, Running> _running = new();
    private readonly CancellationTokenSource _abort = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        // A guest holds a pool thread for as long as it runs (up to its timeout); keep enough
        // threads that busy slots never starve Raft heartbeats and HTTP.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, _options.Slots + (2 * Environment.ProcessorCount)), io);

        node.Applied += _ => _wake.Set();
        var renewal = RenewLeasesAsync(stoppingToken);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await _wake.WaitAsync(NextWait(), stoppingToken).ConfigureAwait(false);
                try
                {
                    await ClaimAndStartAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // No leader, a lost answer, a busy disk: the next wake-up tries again. The
                    // loop must outlive any one failure, or the node stops running jobs.
                    LogClaimDeferred(ex.Message);
                }
            }
        }
        finally
        {
            await renewal.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private TimeSpan NextWait()
    {
        var fallback = TimeSpan.FromMilliseconds(_options.PollMs);
        if (BusySlots >= _options.Slots || store.NextPendingRunAt() is not { } due)
        {
            return fallback;
        }

        var until = TimeSpan.FromMilliseconds(due - time.GetUtcNow().ToUnixTimeMilliseconds());
        return until <= TimeSpan.Zero ? TimeSpan.Zero : (until < fallback ? until : fallback);
    }

    private async Task ClaimAndStartAsync(CancellationToken token)
    {
        var free = _options.Slots - BusySlots;
        if (free <= 0 || !node.IsMember || node.Cluster?.Leader is null)
        {
            return;
        }

        // Look locally before asking the leader: an empty claim is still a log entry.
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (store.NextPendingRunAt() is not { } due || due > now)
        {
            return;
        }

        using var claim = FlotillaTelemetry.Source.StartActivity("job.claim", ActivityKind.Internal);
        claim?.SetTag("flotilla.node", node.NodeId);
        claim?.SetTag("flotilla.claim.max", free);
        var proposed = await proposer.ProposeAsync([new ClaimJobs(node.NodeId, free, _options.LeaseMs)], 0, token).ConfigureAwait(false);
        var claimedAt = time.GetUtcNow().ToUnixTimeMilliseconds();
        var won = proposed.Results[0] is JobsResult jobs ? jobs.Jobs : [];
        claim?.SetTag("flotilla.claim.batch_size", won.Count);
        claim?.SetTag("flotilla.raft.index", proposed.Index);
        if (won.Count == 0)
        {
            return;
        }

        telemetry.Claimed.Add(won.Count, new KeyValuePair<string, object?>("node", node.NodeId));
        foreach (var job in won)
        {
            var running = new Running(job, claimedAt);
            _running[job.JobId] = running;
            running.Execution = Task.Run(() => RunJobAsync(running), CancellationToken.None);
        }

        // More may be due than we had slots for: look again once the entry settles.
        _wake.Set();
    }

    private async Task RunJobAsync(Running running)
    {
        var job = running.Job;
        ActivityContext.TryParse(job.TraceParent, null, out var submitted);
        using var activity = FlotillaTelemetry.Source.StartActivity("job.execute", ActivityKind.Consumer, submitted);
        activity?.SetTag("flotilla.job.id", job.JobId);
        activity?.SetTag("flotilla.job.workflow", job.Workflow);
        activity?.SetTag("flotilla.job.attempt", job.Attempts);
        activity?.SetTag("flotilla.node", node.NodeId);

        var started = time.GetUtcNow().ToUnixTimeMilliseconds();
        var tags = new KeyValuePair<string, object?>("workflow", job.Workflow);
        telemetry.ClaimToStart.Record(started - running.ClaimedAt, tags);
        telemetry.PickupLatency.Record(Math.Max(0, started - Math.Max(job.RunAt, job.CreatedAt)), tags);

        WorkflowOutcome outcome;
        try
        {
            outcome = await RunWorkflowAsync(job, _abort.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The engine promises not to throw for guest faults; anything else is ours, but
            // still only this attempt's failure, never the node's.
            LogEngineError(job.JobId, ex);
            outcome = new WorkflowOutcome(false, null, "engine error: " + ex.Message);
        }

        var elapsed = time.GetUtcNow().ToUnixTimeMilliseconds() - started;
        telemetry.RunTime.Record(elapsed, tags);
        activity?.SetTag("flotilla.job.outcome", outcome.Succeeded ? "completed" : "failed");
        if (!outcome.Succeeded)
        {
            activity?.SetTag("flotilla.job.error", outcome.Error);
            activity?.SetStatus(ActivityStatusCode.Error, outcome.Error);
            telemetry.Failed.Add(1, tags);
        }
        else
        {
            telemetry.Completed.Add(1, tags);
        }

        // The slot is free once the guest is done; the outcome goes to the log meanwhile.
        running.Reporting = true;
        _wake.Set();
        try
        {
            // Stopped by our own shutdown: not the job's failure. Its lease hands it back.
            if (!_abort.IsCancellationRequested)
            {
                await ReportAsync(job, outcome).ConfigureAwait(false);
            }
        }
        finally
        {
            _running.TryRemove(new KeyValuePair<string, Running>(job.JobId, running)); // only this attempt's entry
            _wake.Set();
        }
    }

    private async Task<WorkflowOutcome> RunWorkflowAsync(Job job, CancellationToken token)
    {
        if (store.GetWorkflowModule(job.Workflow) is not { } workflow)
        {
            return new WorkflowOutcome(false, null, $"unknown workflow '{job.Workflow}'");
        }

        var timeout = TimeSpan.FromMilliseconds(job.TimeoutMs ?? workflow.TimeoutMs ?? _options.DefaultTimeoutMs);
        var run = new WorkflowRun(job.JobId, job.Attempts, job.Workflow, workflow.Sha256, job.Payload, timeout, node.NodeId);
        return await runner.RunAsync(run, () => store.GetModule(workflow.Sha256), token).ConfigureAwait(false);
    }

    // The outcome must reach the log or the job runs again after its lease: keep trying
    // through elections for as long as the lease would have held it anyway.
    private async Task ReportAsync(Job job, WorkflowOutcome outcome)
    {
        Command report = outcome.Succeeded
            ? new CompleteJob(job.JobId, node.NodeId, job.Attempts, outcome.Result)
            : new FailJob(job.JobId, node.NodeId, job.Attempts, outcome.Error ?? "failed");
        var deadline = time.GetUtcNow().AddMilliseconds(_options.LeaseMs);
        while (true)
        {
            try
            {
                var result = await proposer.ProposeAsync(report, CancellationToken.None).ConfigureAwait(false);
                if (result is JobChange { Applied: false, Job: var current })
                {
                    // Fenced out: the lease expired or the job was cancelled meanwhile.
                    LogFenced(job.JobId, job.Attempts, current?.Status.ToString() ?? "unknown");
                }

                return;
            }
            catch (Exception ex) when (ex is NoLeaderException or WriteOutcomeUnknownException or HttpRequestException or TaskCanceledException && time.GetUtcNow() < deadline)
            {
                await Task.Delay(250).ConfigureAwait(false);
            }
        }
    }

    private async Task RenewLeasesAsync(CancellationToken token)
    {
        var every = TimeSpan.FromMilliseconds(Math.Max(100, _options.LeaseMs / 3));
        using var timer = new PeriodicTimer(every, time);
        while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var due = _running.Values
                .Where(r => now - r.ClaimedAt >= every.TotalMilliseconds)
                .Select(r => new JobAttempt(r.Job.JobId, r.Job.Attempts))
                .ToArray();
            if (due.Length == 0)
            {
                continue;
            }

            try
            {
                await proposer.ProposeAsync(new RenewLeases(node.NodeId, due, _options.LeaseMs), token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                LogRenewDeferred(due.Length, ex.Message);
            }
        }
    }

    /// <summary>Stops claiming, lets running jobs finish for a grace period; leases hand back the rest.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        var running = _running.Values.Select(r => r.Execution).OfType<Task>().ToArray();
        if (running.Length > 0)
        {
            LogDraining(running.Length);
            await Task.WhenAny(Task.WhenAll(running), Task.Delay(_options.ShutdownGraceMs, cancellationToken)).ConfigureAwait(false);
            await _abort.CancelAsync().ConfigureAwait(false);
        }
    }

    public override void Dispose()
    {
        _abort.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Claim deferred: {Reason}")]
    private partial void LogClaimDeferred(string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Workflow engine failed on job {JobId}")]
    private partial void LogEngineError(string jobId, Exception ex);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "Outcome of job {JobId} attempt {Attempt} ignored: the job is {Status} now")]
    private partial void LogFenced(string jobId, int attempt, string status);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "Could not renew {Count} lease(s): {Reason}")]
    private partial void LogRenewDeferred(int count, string reason);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "Stopping: waiting for {Count} running job(s)")]
    private partial void LogDraining(int count);

    private int BusySlots => _running.Values.Count(r => !r.Reporting);

    private sealed class Running(Job job, long claimedAt)
    {
        private volatile bool _reporting;

        /// <summary>The run is over and its outcome on its way to the log: the slot is free again.</summary>
        public bool Reporting
        {
            get => _reporting;
            set => _reporting = value;
        }

        public Job Job { get; } = job;

        public long ClaimedAt { get; } = claimedAt;

        public Task? Execution { get; set; }
    }
}
