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
    DirectoryInfo snapshotDir, DirectoryInfo scratchDir, JobStore store, int snapshotEvery, ILogger<JobStateMachine> logger)
    : SimpleStateMachine(snapshotDir)
{
    private long _lastSnapshotIndex;

    /// <summary>Raised after a batch is applied locally (every node applies every commit).</summary>
    public event Action<long>? Applied;

    protected override ValueTask<bool> ApplyAsync(LogEntry entry, CancellationToken token)
    {
        if (entry.IsConfiguration || entry.Length == 0 || !entry.TryGetPayload(out var payload) || payload.IsEmpty)
        {
            // Leader no-ops and membership changes carry no commands.
            store.MarkApplied(entry.Index);
            return ValueTask.FromResult(SnapshotDue(entry.Index));
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

        Applied?.Invoke(entry.Index);
        return ValueTask.FromResult(SnapshotDue(entry.Index));
    }

    private bool SnapshotDue(long index)
    {
        if (index - _lastSnapshotIndex < snapshotEvery)
        {
            return false;
        }

        _lastSnapshotIndex = index;
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

    [LoggerMessage(EventId = 1101, Level = LogLevel.Error, Message = "Log entry {Index} could not be decoded and was skipped: {Reason}")]
    private partial void LogUndecodable(long index, string reason);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Snapshot written at applied index {Index} ({Bytes} bytes)")]
    private partial void LogSnapshotWritten(long index, long bytes);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "Snapshot {Snapshot} restored: replaced={Replaced}, applied index now {Index}")]
    private partial void LogSnapshotRestored(string snapshot, bool replaced, long index);
}
