using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Flotilla.Node.Telemetry;
using Flotilla.Node.Workflows;
using Flotilla.Node.Workflows.Durable;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Worker;

/// <summary>
/// The node's worker. It never claims: it offers capacity (<see cref="OfferCapacity"/>), and
/// every applied entry hands due jobs to live workers with free credit, so a job reaches a
/// node in the same entry that admitted it. The worker queues what it was given, runs it in
/// its slots as a WebAssembly workflow, and sends the outcomes of many jobs in one
/// <see cref="FinishJobs"/> entry, fenced per job by (node, attempt).
/// </summary>
/// <remarks>
/// Credit is slots plus a prefetch sized from recent run times (about 50 ms of work queued),
/// so short jobs never wait for a round trip and long ones are not hoarded. A busy worker
/// re-offers as a heartbeat; an idle one lets its offer lapse and offers again when due work
/// appears. Jobs running under this node's name that it does not know (a restart, a lost
/// notification) are adopted; cancelled or rescued ones are stopped.
/// </remarks>
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
    private const int MaxOutcomesPerEntry = 4096;

    // Results (up to 1 MiB each) and the journals that ride with them: one report stays well
    // inside an entry's soft cap and a forwarded request's body limit, however large they are.
    private const long MaxReportBytes = 8L * 1024 * 1024;
    private const double TargetQueueMs = 50;

    private readonly WorkerOptions _options = options.Value;
    private readonly WakeSignal _wake = new();
    private readonly ConcurrentDictionary<string, Held> _held = new();
    // Outcomes sent, until the entry that carries them is applied here (or a lease passes, when
    // its index is unknown): kept no longer, as at thousands of jobs a second they are most of
    // what outlives a gen0 collection, and what dies in gen2 stays until a full collection.
    private readonly ConcurrentDictionary<string, (int Attempt, long At, long Index)> _finished = new();
    private readonly Channel<Held> _ready = Channel.CreateUnbounded<Held>();
    private readonly Channel<(Held Job, JobOutcome Outcome)> _outcomes = Channel.CreateUnbounded<(Held, JobOutcome)>();
    private readonly CancellationTokenSource _abort = new();
    private readonly WorkflowLookup _workflows = new(store);
    private readonly Lock _runTimeLock = new();
    private double _meanRunMs = double.NaN;
    private double _meanReporting;
    private int _offered = -1;
    private long _lastOfferAt = long.MinValue;
    private volatile bool _offerVoided;
    private volatile bool _stopping;
    private Task _loops = Task.CompletedTask;

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

        store.Changed += OnChanged;
        node.Applied += _ => _wake.Set();

        try
        {
            while (!node.IsMember)
            {
                await Task.Delay(100, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }

        Adopt();

        // The slots and the outcome loop outlive stoppingToken: on shutdown, running jobs get a
        // grace period and their outcomes must still reach the log (see StopAsync).
        var slots = Enumerable.Range(0, _options.Slots).Select(_ => Task.Run(() => SlotLoopAsync(_abort.Token), CancellationToken.None));
        _loops = Task.WhenAll([.. slots, Task.Run(() => ReportLoopAsync(_abort.Token), CancellationToken.None)]);
        var renewal = RenewLeasesAsync(stoppingToken);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await _wake.WaitAsync(TimeSpan.FromMilliseconds(Math.Min(_options.PollMs, _options.HeartbeatMs)), stoppingToken).ConfigureAwait(false);
                try
                {
                    await OfferIfDueAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // No leader, a lost answer: the next wake-up tries again. The loop must
                    // outlive any one failure, or the node stops taking jobs.
                    LogOfferDeferred(ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await renewal.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    // Runs on the applying thread: only hands work off.
    private void OnChanged(JobChanges changes)
    {
        List<Job>? mine = null;
        foreach (var job in changes.Assigned)
        {
            if (job.ClaimedBy == node.NodeId)
            {
                (mine ??= []).Add(job);
            }
        }

        foreach (var revoked in changes.Revoked)
        {
            if (revoked.Node != node.NodeId)
            {
                continue;
            }

            // A lease rescue also marks this node dead (the cluster took it for gone): offer
            // again at once, or a live node gets no work until its next heartbeat, and an idle
            // one until work shows up in its own copy. (A cancel lands here too: one spare offer.)
            _offerVoided = true;
            _wake.Set();
            if (_held.TryGetValue(revoked.JobId, out var held) && held.Job.Fence == revoked.Attempt)
            {
                held.Revoke();
            }
        }

        if (mine is null)
        {
            return;
        }

        using var claim = FlotillaTelemetry.Source.StartActivity(
            "job.claim", ActivityKind.Internal, default(ActivityContext), startTime: DateTimeOffset.FromUnixTimeMilliseconds(mine[0].UpdatedAt));
        claim?.SetTag("flotilla.node", node.NodeId);
        claim?.SetTag("flotilla.claim.batch_size", mine.Count);
        claim?.SetTag("flotilla.raft.index", changes.Index);
        telemetry.Claimed.Add(mine.Count, new KeyValuePair<string, object?>("node", node.NodeId));
        foreach (var job in mine)
        {
            Take(job);
        }
    }

    private void Take(Job job)
    {
        var held = new Held(job, time.GetUtcNow().ToUnixTimeMilliseconds());
        while (true)
        {
            if (_held.TryAdd(job.JobId, held))
            {
                _ready.Writer.TryWrite(held);
                return;
            }

            // Held already: the same attempt (nothing to do), or an older one that was rescued
            // and has now come back to this node as a new attempt.
            if (!_held.TryGetValue(job.JobId, out var old) || old.Job.Fence >= job.Fence)
            {
                return;
            }

            old.Revoke();
            if (_held.TryUpdate(job.JobId, held, old))
            {
                _ready.Writer.TryWrite(held);
                return;
            }
        }
    }

    /// <summary>Takes on jobs running under this node's name that the worker does not hold: after a restart, or a missed notification.</summary>
    private void Adopt()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var applied = store.AppliedIndex; // read before RunningOn below: what it reads includes these entries
        foreach (var (jobId, finished) in _finished)
        {
            if ((finished.Index > 0 && finished.Index <= applied) || now - finished.At > _options.LeaseMs)
            {
                _finished.TryRemove(jobId, out _);
            }
        }

        var adopted = 0;
        foreach (var job in store.RunningOn(node.NodeId))
        {
            // An outcome already sent but not yet applied here is not a job to run again.
            if (!_held.ContainsKey(job.JobId) && !(_finished.TryGetValue(job.JobId, out var f) && f.Attempt == job.Fence))
            {
                Take(job);
                adopted++;
            }
        }

        if (adopted > 0)
        {
            LogAdopted(adopted);
        }
    }

    private async Task SlotLoopAsync(CancellationToken token)
    {
        await foreach (var held in _ready.Reader.ReadAllAsync(token).ConfigureAwait(false))
        {
            if (held.Revoked)
            {
                _held.TryRemove(new KeyValuePair<string, Held>(held.Job.JobId, held));
                continue;
            }

            if (_stopping)
            {
                // Never started: give it back at once rather than leave it to its lease.
                _outcomes.Writer.TryWrite((held, new JobOutcome(held.Job.JobId, held.Job.Fence, OutcomeKind.Released, null)));
                continue;
            }

            try
            {
                await RunJobAsync(held).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                LogEngineError(held.Job.JobId, ex);
                _outcomes.Writer.TryWrite((held, new JobOutcome(held.Job.JobId, held.Job.Fence, OutcomeKind.Failed, "engine error: " + ex.Message)));
            }
        }
    }

    private async Task RunJobAsync(Held held)
    {
        var job = held.Job;
        ActivityContext.TryParse(job.TraceParent, null, out var submitted);
        using var activity = FlotillaTelemetry.Source.StartActivity("job.execute", ActivityKind.Consumer, submitted);
        activity?.SetTag("flotilla.job.id", job.JobId);
        activity?.SetTag("flotilla.job.workflow", job.Workflow);
        activity?.SetTag("flotilla.job.attempt", job.Attempts);
        activity?.SetTag("flotilla.node", node.NodeId);

        var started = time.GetUtcNow().ToUnixTimeMilliseconds();
        var tags = new KeyValuePair<string, object?>("workflow", job.Workflow);
        telemetry.ClaimToStart.Record(started - held.ReceivedAt, tags);
        telemetry.PickupLatency.Record(Math.Max(0, started - Math.Max(job.RunAt, job.CreatedAt)), tags);

        var watch = Stopwatch.StartNew();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token, held.Revocation);
        var journal = NewJournal(job, cancel.Token);
        var outcome = WithJournalFailure(journal, await RunWorkflowAsync(job, journal, cancel.Token).ConfigureAwait(false));
        NoteRunTime(watch.Elapsed.TotalMilliseconds);
        telemetry.RunTime.Record(watch.Elapsed.TotalMilliseconds, tags);

        activity?.SetTag("flotilla.journal.replayed", journal.Replayed);
        var parkedUntil = journal.ParkedUntil;
        activity?.SetTag("flotilla.job.outcome", held.Revoked ? "revoked" : parkedUntil is not null ? "parked" : outcome.Succeeded ? "completed" : "failed");
        if (parkedUntil is not null)
        {
            activity?.SetTag("flotilla.job.parked_until", parkedUntil);
        }
        else if (!outcome.Succeeded)
        {
            activity?.SetTag("flotilla.job.error", outcome.Error);
            activity?.SetStatus(ActivityStatusCode.Error, outcome.Error);
        }

        if (held.Revoked || _abort.IsCancellationRequested)
        {
            // Cancelled or rescued meanwhile (its outcome would be fenced out), or cut off by our
            // own shutdown (not the job's failure: its lease hands it back).
            _held.TryRemove(new KeyValuePair<string, Held>(job.JobId, held));
            return;
        }

        held.Journal = ToAppend(job, node.NodeId, journal);
        if (parkedUntil is { } wakeAt)
        {
            // Parked in a long sleep: its journal (the sleep last) and the park ride in one entry;
            // the job is pending until the wake-up and this slot is free now.
            _outcomes.Writer.TryWrite((held, new JobOutcome(job.JobId, job.Fence, OutcomeKind.Parked, null, started, wakeAt)));
            return;
        }

        (outcome.Succeeded ? telemetry.Completed : telemetry.Failed).Add(1, tags);
        var kind = journal.Failure is not null ? OutcomeKind.FailedPermanently : outcome.Succeeded ? OutcomeKind.Completed : OutcomeKind.Failed;
        _outcomes.Writer.TryWrite((held, new JobOutcome(job.JobId, job.Fence, kind, outcome.Succeeded ? outcome.Result : outcome.Error ?? "failed", started)));
    }

    private async Task<WorkflowOutcome> RunWorkflowAsync(Job job, RunJournal journal, CancellationToken token)
    {
        // Version pinning: the module the job was submitted with, kept while the job is unfinished;
        // the name's current module only for a job stored before pinning.
        var workflow = _workflows.Find(job.Workflow);
        if ((job.ModuleSha256 ?? workflow?.Sha256) is not { } sha256)
        {
            return new WorkflowOutcome(false, null, $"unknown workflow '{job.Workflow}'");
        }

        var timeout = TimeSpan.FromMilliseconds(job.TimeoutMs ?? workflow?.TimeoutMs ?? _options.DefaultTimeoutMs);
        var run = new WorkflowRun(job.JobId, job.Attempts, job.Workflow, sha256, job.Payload, timeout, node.NodeId) { Journal = journal };
        return await runner.RunAsync(run, () => store.GetModule(sha256), token).ConfigureAwait(false);
    }

    // One entry at a time: outcomes that finish while it commits ride in the next one, so the
    // entry rate stays near one per round trip however many jobs finish.
    private async Task ReportLoopAsync(CancellationToken token)
    {
        var batch = new List<(Held Job, JobOutcome Outcome)>();
        while (await _outcomes.Reader.WaitToReadAsync(token).ConfigureAwait(false))
        {
            batch.Clear();
            long bytes = 0;
            while (batch.Count < MaxOutcomesPerEntry && _outcomes.Reader.TryPeek(out var next))
            {
                var size = CommandRules.EstimateBytes(next.Outcome) + CommandRules.EstimateBytes(next.Job.Journal);
                if (batch.Count > 0 && bytes + size > MaxReportBytes)
                {
                    break;
                }

                _outcomes.Reader.TryRead(out _);
                batch.Add(next);
                bytes += size;
            }

            NoteReporting(batch.Count);
            var index = await ReportAsync(batch, token).ConfigureAwait(false);
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var (held, outcome) in batch)
            {
                _finished[outcome.JobId] = (outcome.Attempt, now, index);
                _held.TryRemove(new KeyValuePair<string, Held>(held.Job.JobId, held)); // only this attempt's entry
            }

            _wake.Set();
        }
    }

    // The outcomes must reach the log or the jobs run again after their leases: keep trying
    // through elections and outages, however long (a fenced-out outcome changes nothing). Giving
    // up after a deadline, as before, ended this loop for good: the jobs stayed held, their leases
    // renewed, and they sat `running` forever (found by the chaos test after a restart of all).
    // Only a refusal of the command itself is final; then the leases hand the jobs back.
    // Returns the log index the outcomes were applied at, 0 when not known (refused).
    private async Task<long> ReportAsync(List<(Held Job, JobOutcome Outcome)> batch, CancellationToken token)
    {
        var commands = WithJournals(batch.Select(b => b.Job.Journal), new FinishJobs(node.NodeId, batch.Select(b => b.Outcome).ToArray()));
        while (true)
        {
            try
            {
                var proposed = await proposer.ProposeAsync(commands, 0, token, readYourWrites: false).ConfigureAwait(false);
                if (proposed.Results[^1] is CountResult { Count: var applied } && applied < batch.Count)
                {
                    // Fenced out: leases expired or jobs were cancelled meanwhile.
                    LogFenced(batch.Count - applied, batch.Count);
                }

                return proposed.Index;
            }
            catch (InvalidCommandException ex)
            {
                LogReportRefused(ex, batch.Count);
                return 0;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                LogReportDeferred(batch.Count, ex.Message);
                await Task.Delay(250, token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Offers (again) when the capacity it wants changed, or as a heartbeat while there is work.</summary>
    private async Task OfferIfDueAsync(CancellationToken token)
    {
        if (!node.IsMember || node.Cluster?.Leader is null)
        {
            return;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var wanted = WantedCapacity();
        var changed = wanted != _offered && (_offered <= 0 || Math.Abs(wanted - _offered) * 4 >= _offered);
        var heartbeatDue = now - _lastOfferAt >= _options.HeartbeatMs;
        var busy = !_held.IsEmpty || store.NextPendingRunAt() is { } due && due <= now;
        var voided = _offerVoided;
        if (!changed && !voided && !(heartbeatDue && busy))
        {
            return;
        }

        _offerVoided = false;
        try
        {
            await OfferAsync(wanted, token).ConfigureAwait(false);
        }
        catch
        {
            _offerVoided |= voided;
            throw;
        }
    }

    private async Task OfferAsync(int capacity, CancellationToken token)
    {
        // Ready: its slots. While the leader holds fewer jobs than that it has a slot free (held
        // jobs include queued and finished-but-unreported ones), so being handed the next job
        // first never queues it behind running ones while other nodes are idle.
        var offer = new OfferCapacity(node.NodeId, capacity, _options.LeaseMs, 3L * _options.HeartbeatMs, Ready: _options.Slots);
        await proposer.ProposeAsync([offer], 0, token, readYourWrites: false).ConfigureAwait(false);
        _offered = capacity;
        _lastOfferAt = time.GetUtcNow().ToUnixTimeMilliseconds();
    }

    private int WantedCapacity()
    {
        double mean, reporting;
        lock (_runTimeLock)
        {
            mean = _meanRunMs;
            reporting = _meanReporting;
        }

        // Until a run is measured, queue one job per slot; then about TargetQueueMs of work.
        var prefetch = double.IsNaN(mean)
            ? _options.Slots
            : Math.Clamp((int)(_options.Slots * TargetQueueMs / Math.Max(mean, 0.05)), 0, _options.Prefetch);

        // A finished job holds its credit until its outcome commits. When commits are slow (a
        // slow disk, an election) that is most of the credit, and a node whose slots are idle
        // was given nothing while due jobs waited: so the outcomes usually in flight are added.
        return _options.Slots + prefetch + (int)Math.Ceiling(reporting);
    }

    private void NoteReporting(int outcomes)
    {
        lock (_runTimeLock)
        {
            _meanReporting = (_meanReporting * 0.8) + (outcomes * 0.2);
        }
    }

    private void NoteRunTime(double ms)
    {
        lock (_runTimeLock)
        {
            _meanRunMs = double.IsNaN(_meanRunMs) ? ms : (_meanRunMs * 0.9) + (ms * 0.1);
        }
    }

    // Leases of everything held, queued jobs included; also where missed jobs are adopted. The
    // first round runs at once: jobs adopted after a restart have leases about to run out.
    private async Task RenewLeasesAsync(CancellationToken token)
    {
        var every = TimeSpan.FromMilliseconds(Math.Max(100, _options.LeaseMs / 3));
        using var timer = new PeriodicTimer(every, time);
        var first = true;
        while (first || await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
        {
            first = false;
            try
            {
                Adopt();
                var held = _held.Values.Select(h => new JobAttempt(h.Job.JobId, h.Job.Fence)).ToArray();
                if (held.Length > 0)
                {
                    await proposer.ProposeAsync([new RenewLeases(node.NodeId, held, _options.LeaseMs)], 0, token, readYourWrites: false).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                LogRenewDeferred(_held.Count, ex.Message);
            }
        }
    }

    /// <summary>
    /// Withdraws the offer, gives back queued jobs at once, lets running jobs finish for a grace
    /// period and reports them; leases hand back whatever is still running after that.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (!_options.Enabled)
        {
            return;
        }

        try
        {
            using var quick = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            quick.CancelAfter(TimeSpan.FromSeconds(2));
            await OfferAsync(0, quick.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogOfferDeferred(ex.Message);
        }

        if (!_held.IsEmpty)
        {
            LogDraining(_held.Count);
        }

        var drained = Task.Run(async () =>
        {
            while (!_held.IsEmpty)
            {
                await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
            }
        }, CancellationToken.None);
        await Task.WhenAny(drained, Task.Delay(_options.ShutdownGraceMs, cancellationToken)).ConfigureAwait(false);
        await _abort.CancelAsync().ConfigureAwait(false);
        _ready.Writer.TryComplete();
        await _loops.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public override void Dispose()
    {
        store.Changed -= OnChanged;
        _abort.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Offer deferred: {Reason}")]
    private partial void LogOfferDeferred(string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Workflow engine failed on job {JobId}")]
    private partial void LogEngineError(string jobId, Exception ex);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "{Fenced} of {Count} outcome(s) ignored: those jobs were cancelled or rescued meanwhile")]
    private partial void LogFenced(int fenced, int count);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "Could not renew {Count} lease(s): {Reason}")]
    private partial void LogRenewDeferred(int count, string reason);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "Stopping: waiting for {Count} held job(s)")]
    private partial void LogDraining(int count);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Information, Message = "Adopted {Count} job(s) running under this node's name")]
    private partial void LogAdopted(int count);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Error, Message = "The cluster refused {Count} outcome(s); their leases will hand the jobs back")]
    private partial void LogReportRefused(Exception ex, int count);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Warning, Message = "Could not report {Count} outcome(s) yet: {Reason}")]
    private partial void LogReportDeferred(int count, string reason);

    /// <summary>A job assigned to this node: queued, running, or with its outcome on the way to the log.</summary>
    private sealed class Held(Job job, long receivedAt)
    {
        private readonly CancellationTokenSource _revocation = new();
        private volatile bool _revoked;

        public Job Job { get; } = job;

        public long ReceivedAt { get; } = receivedAt;

        /// <summary>Cancelled or rescued by the cluster: stop it, report nothing.</summary>
        public bool Revoked => _revoked;

        public CancellationToken Revocation => _revocation.Token;

        /// <summary>A durable run's live host calls, committed with its outcome.</summary>
        public AppendJournal? Journal { get; set; }

        public void Revoke()
        {
            _revoked = true;
            _revocation.Cancel();
        }
    }
}
