using System.Diagnostics;
using System.Text.Json;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Flotilla.Node.Store;

namespace Flotilla.Node.Cluster;

/// <summary>
/// The Raft state machine: applies committed entries to the node's SQLite store in log order,
/// writes snapshots of it for log compaction, and installs snapshots sent by the leader.
/// It only applies, persists and restores; proposing lives in <see cref="Proposer"/>.
/// </summary>
/// <remarks>
/// Snapshots do not stop apply. DotNext's <c>SimpleStateMachine</c> makes the next apply wait
/// for the whole snapshot (seconds for a large store, during which no job is assigned or
/// acknowledged); here the state is pinned by a read transaction at the snapshot's index (one
/// read on the apply path) and copied in the background. The log learns of the snapshot when
/// the copy is on disk, and compacts up to it then. Snapshot files keep DotNext's layout
/// (<c>snapshots/{index}-{term}</c>, the database file itself), so existing data folders open.
/// </remarks>
internal sealed partial class JobStateMachine(
    DirectoryInfo snapshotDir, DirectoryInfo scratchDir, JobStore store, SnapshotPolicy policy, ILogger<JobStateMachine> logger)
    : IStateMachine, IAsyncDisposable
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _lifetime = new();
    private int _disposed;
    private long _appliedIndex;
    private long _lastSnapshotIndex;
    private long _bytesSinceSnapshot;
    private volatile SnapshotFile? _snapshot;
    private Task? _snapshotting;
    private volatile string? _fault;

    /// <summary>Raised after a batch is applied locally (every node applies every commit).</summary>
    public event Action<long>? Applied;

    /// <summary>Raised when applying an entry starts failing (with the reason) and when it recovers (null).</summary>
    public event Action<string?>? FaultChanged;

    /// <summary>Why this node cannot apply committed entries right now (a disk error, a full disk); null when it can.</summary>
    public string? Fault => _fault;

    /// <summary>How long the last snapshot held up apply, and how long its copy took (both ms); for the health body and the benchmark.</summary>
    public SnapshotTiming? LastSnapshot { get; private set; }

    ISnapshot? ISnapshotManager.Snapshot => _snapshot;

    /// <summary>Loads the newest snapshot on disk into the store (when the store is behind it), before the log opens.</summary>
    public ValueTask RestoreAsync(CancellationToken token)
    {
        token.ThrowIfCancellationRequested();
        if (SnapshotFile.Newest(snapshotDir) is { } newest)
        {
            _snapshot = newest;
            _appliedIndex = _lastSnapshotIndex = newest.Index;
            Restore(newest);
        }

        return ValueTask.CompletedTask;
    }

    ValueTask<long> IStateMachine.ApplyAsync(LogEntry entry, CancellationToken token) =>
        _appliedIndex >= entry.Index ? ValueTask.FromResult(_appliedIndex)
        : entry.IsSnapshot ? InstallSnapshotAsync(entry, token)
        : ApplyCoreAsync(entry, token);

    ValueTask ISnapshotManager.ReclaimGarbageAsync(long watermark, CancellationToken token)
    {
        foreach (var old in SnapshotFile.All(snapshotDir).Where(s => s.Index < watermark))
        {
            token.ThrowIfCancellationRequested();
            try
            {
                old.File.Delete();
            }
            catch (IOException ex)
            {
                // An old file left behind costs disk only; an exception here would reach the log's background work.
                LogReclaimFailed(old.File.Name, ex);
            }
        }

        return ValueTask.CompletedTask;
    }

    private async ValueTask<long> ApplyCoreAsync(LogEntry entry, CancellationToken token)
    {
        // Entries replayed at start that the store already holds (it may be ahead of the newest
        // snapshot) apply as no-ops; the state at such an index can no longer be pinned.
        if (await ApplyAsync(entry, token).ConfigureAwait(false) && store.AppliedIndex == entry.Index)
        {
            BeginSnapshot(entry.Index, entry.Term);
        }

        return _appliedIndex = entry.Index;
    }

    // A snapshot sent by the leader replaces the whole state: any copy of ours in progress is
    // older, so it is waited for (not to race on the folder) and superseded.
    private async ValueTask<long> InstallSnapshotAsync(LogEntry entry, CancellationToken token)
    {
        if (_snapshotting is { } running)
        {
            await running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        var temporary = Path.Combine(scratchDir.FullName, $"installing.{Guid.NewGuid():N}");
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
            {
                await entry.WriteToAsync(file, 81920, token).ConfigureAwait(false);
                await file.FlushAsync(token).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            var installed = SnapshotFile.Place(snapshotDir, temporary, entry.Index, entry.Term);
            Restore(installed);
            _snapshot = installed;
            _lastSnapshotIndex = entry.Index;
            _bytesSinceSnapshot = 0;
            return _appliedIndex = entry.Index;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private void Restore(SnapshotFile snapshot)
    {
        var replaced = store.RestoreSnapshot(snapshot.File.FullName);
        LogSnapshotRestored(snapshot.File.Name, replaced, store.AppliedIndex);
        Applied?.Invoke(store.AppliedIndex);
    }

    private async ValueTask<bool> ApplyAsync(LogEntry entry, CancellationToken token)
    {
        // DotNext's applier stops for good on the first exception (6.12), which would leave a
        // node that answers health checks but never applies again. So a failing apply (an I/O
        // error, a full disk) is retried here, with backoff, until it succeeds; meanwhile the
        // node reports itself unhealthy and steps down if it leads. Apply is all-or-nothing per
        // entry, so a retry starts from a clean state.
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                var snapshot = ApplyEntry(entry);
                if (_fault is not null)
                {
                    _fault = null;
                    LogApplyRecovered(entry.Index);
                    FaultChanged?.Invoke(null);
                }

                return snapshot;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                var reason = $"applying entry {entry.Index} failed: {ex.GetType().Name}: {ex.Message}";
                if (_fault != reason)
                {
                    _fault = reason;
                    LogApplyFailed(entry.Index, ex);
                    FaultChanged?.Invoke(reason);
                }

                await Task.Delay(delay, token).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }
    }

    private bool ApplyEntry(LogEntry entry)
    {
        if (entry.IsConfiguration || entry.Length == 0 || !entry.TryGetPayload(out var payload) || payload.IsEmpty)
        {
            // Leader no-ops and membership changes carry no commands.
            store.MarkApplied(entry.Index);
            return SnapshotDue(entry.Index, 0);
        }

        IReadOnlyList<CommandResult>? results;
        try
        {
            var batch = CommandCodec.Decode(payload);
            results = store.Apply(entry.Index, batch);
        }
        catch (Exception ex) when (ex is JsonException or InvalidDataException)
        {
            // Every node reads the same bytes with the same code, so every node skips it alike.
            LogUndecodable(entry.Index, ex.Message);
            store.MarkApplied(entry.Index);
            results = null;
        }

        if (entry.Context is Proposal proposal && results is not null)
        {
            proposal.Results = results;
            proposal.Index = entry.Index;
        }

        NotifyApplied(entry.Index);
        return SnapshotDue(entry.Index, entry.Length ?? payload.Length);
    }

    // The entry is applied and stored: a listener's failure must not make it look otherwise.
    private void NotifyApplied(long index)
    {
        try
        {
            Applied?.Invoke(index);
        }
        catch (Exception ex)
        {
            LogListenerFailed(index, ex);
        }
    }

    // Whether this entry ends a snapshot interval (see SnapshotPolicy); the copy runs beside apply (BeginSnapshot).
    private bool SnapshotDue(long index, long bytes)
    {
        _bytesSinceSnapshot += bytes;
        if (!policy.IsDue(index - _lastSnapshotIndex, _bytesSinceSnapshot, _snapshot?.File.Length ?? 0))
        {
            return false;
        }

        if (_snapshotting is { IsCompleted: false })
        {
            return false; // one copy at a time; it stays due until this one is on disk
        }

        _lastSnapshotIndex = index;
        _bytesSinceSnapshot = 0;
        return true;
    }

    // Pins the state here, on the apply path (one read), and copies it in the background.
    private void BeginSnapshot(long index, long term)
    {
        var started = Stopwatch.GetTimestamp();
        PinnedState state;
        try
        {
            state = store.PinState();
        }
        catch (Exception ex)
        {
            // No snapshot this time: the log keeps its entries and the next one is tried later.
            LogSnapshotFailed(index, ex);
            return;
        }

        var stall = Stopwatch.GetElapsedTime(started);
        var token = _lifetime.Token;
        // Not Task.Run(..., token): a task cancelled before it starts would never dispose the pin.
        _snapshotting = Task.Run(() => WriteSnapshot(state, index, term, stall, token), CancellationToken.None);
    }

    private void WriteSnapshot(PinnedState state, long index, long term, TimeSpan stall, CancellationToken token)
    {
        var started = Stopwatch.GetTimestamp();
        var temporary = Path.Combine(scratchDir.FullName, $"snapshot.{Guid.NewGuid():N}.db");
        try
        {
            using (state)
            {
                if (state.AppliedIndex != index)
                {
                    throw new InvalidOperationException($"The pinned state is at {state.AppliedIndex}, not at entry {index}.");
                }

                state.CopyTo(temporary);
            }

            token.ThrowIfCancellationRequested();
            using (var file = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite))
            {
                file.Flush(flushToDisk: true);
            }

            var written = SnapshotFile.Place(snapshotDir, temporary, index, term);
            _snapshot = written;
            LastSnapshot = new SnapshotTiming(index, written.File.Length, stall.TotalMilliseconds, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            LogSnapshotWritten(index, written.File.Length, stall.TotalMilliseconds, LastSnapshot.CopyMs);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
        {
            LogSnapshotFailed(index, ex);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Disposed twice on shutdown (the write-ahead log disposes its state machine, then RaftNode does).
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
        if (_snapshotting is { } running)
        {
            await running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _lifetime.Dispose();
    }

    [LoggerMessage(EventId = 1106, Level = LogLevel.Error, Message = "A listener failed after entry {Index} was applied")]
    private partial void LogListenerFailed(long index, Exception ex);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Critical, Message = "Applying log entry {Index} failed; retrying until it succeeds, unhealthy meanwhile")]
    private partial void LogApplyFailed(long index, Exception ex);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "Applying recovered at log entry {Index}")]
    private partial void LogApplyRecovered(long index);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Error, Message = "Log entry {Index} could not be decoded and was skipped: {Reason}")]
    private partial void LogUndecodable(long index, string reason);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Snapshot written at applied index {Index} ({Bytes} bytes); apply held {StallMs:F1} ms, copy took {CopyMs:F0} ms")]
    private partial void LogSnapshotWritten(long index, long bytes, double stallMs, double copyMs);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Warning, Message = "Old snapshot {Snapshot} could not be deleted")]
    private partial void LogReclaimFailed(string snapshot, Exception ex);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "Snapshot at entry {Index} failed; the log keeps its entries until the next one")]
    private partial void LogSnapshotFailed(long index, Exception ex);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "Snapshot {Snapshot} restored: replaced={Replaced}, applied index now {Index}")]
    private partial void LogSnapshotRestored(string snapshot, bool replaced, long index);
}
