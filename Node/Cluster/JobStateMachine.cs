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
internal sealed partial class JobStateMachine(
    DirectoryInfo snapshotDir, DirectoryInfo scratchDir, JobStore store, int snapshotEvery, long snapshotBytes, ILogger<JobStateMachine> logger)
    : SimpleStateMachine(snapshotDir)
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private long _lastSnapshotIndex;
    private long _bytesSinceSnapshot;
    private long _lastSnapshotSize;
    private volatile string? _fault;

    /// <summary>Raised after a batch is applied locally (every node applies every commit).</summary>
    public event Action<long>? Applied;

    /// <summary>Raised when applying an entry starts failing (with the reason) and when it recovers (null).</summary>
    public event Action<string?>? FaultChanged;

    /// <summary>Why this node cannot apply committed entries right now (a disk error, a full disk); null when it can.</summary>
    public string? Fault => _fault;

    protected override async ValueTask<bool> ApplyAsync(LogEntry entry, CancellationToken token)
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
        catch (JsonException ex)
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

    // A snapshot copies the whole database, so it is taken when the log since the last one has
    // grown by as much as a snapshot costs (at least Cluster:SnapshotBytes), or after
    // Cluster:SnapshotEvery entries: its cost stays proportional to the writes, however large
    // the store. (Every 1,000 entries, as before, meant a full copy every second under load.)
    private bool SnapshotDue(long index, long bytes)
    {
        _bytesSinceSnapshot += bytes;
        if (index - _lastSnapshotIndex < snapshotEvery && _bytesSinceSnapshot < Math.Max(snapshotBytes, _lastSnapshotSize))
        {
            return false;
        }

        _lastSnapshotIndex = index;
        _bytesSinceSnapshot = 0;
        return true;
    }

    protected override async ValueTask PersistAsync(IAsyncBinaryWriter writer, CancellationToken token)
    {
        var temp = Path.Combine(scratchDir.FullName, $"snapshot.{Guid.NewGuid():N}.db");
        try
        {
            store.WriteSnapshot(temp);
            await using var stream = new FileStream(temp, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous);
            await writer.CopyFromAsync(stream, null, token).ConfigureAwait(false);
            _lastSnapshotSize = stream.Length;
            LogSnapshotWritten(store.AppliedIndex, stream.Length);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    protected override ValueTask RestoreAsync(FileInfo snapshotFile, CancellationToken token)
    {
        var replaced = store.RestoreSnapshot(snapshotFile.FullName);
        LogSnapshotRestored(snapshotFile.Name, replaced, store.AppliedIndex);
        _lastSnapshotIndex = store.AppliedIndex;
        Applied?.Invoke(store.AppliedIndex);
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 1106, Level = LogLevel.Error, Message = "A listener failed after entry {Index} was applied")]
    private partial void LogListenerFailed(long index, Exception ex);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Critical, Message = "Applying log entry {Index} failed; retrying until it succeeds, unhealthy meanwhile")]
    private partial void LogApplyFailed(long index, Exception ex);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "Applying recovered at log entry {Index}")]
    private partial void LogApplyRecovered(long index);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Error, Message = "Log entry {Index} could not be decoded and was skipped: {Reason}")]
    private partial void LogUndecodable(long index, string reason);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Snapshot written at applied index {Index} ({Bytes} bytes)")]
    private partial void LogSnapshotWritten(long index, long bytes);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "Snapshot {Snapshot} restored: replaced={Replaced}, applied index now {Index}")]
    private partial void LogSnapshotRestored(string snapshot, bool replaced, long index);
}
