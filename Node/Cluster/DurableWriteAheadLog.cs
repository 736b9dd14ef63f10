using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace Flotilla.Node.Cluster;

/// <summary>
/// DotNext 6.12's write-ahead log lets a follower answer AppendEntries before the new entries
/// are on its disk. Then an acknowledged job can live on the leader's disk only, and a crash of
/// every node loses it (and splits the databases). Raft's promise needs the follower to persist
/// before it replies, so the batch append that AppendEntries uses flushes before returning.
/// This relies on the 6.12.0 call path: the version is pinned in Directory.Packages.props and
/// tests/Node.Tests/Cluster/DurabilityTests.cs reproduces the loss if it ever regresses.
/// </summary>
internal sealed class DurableWriteAheadLog(WriteAheadLog.Options options, IStateMachine stateMachine, bool flushBeforeAck = true)
    : WriteAheadLog(options, stateMachine), IAuditTrail<IRaftLogEntry>
{
    async ValueTask IAuditTrail<IRaftLogEntry>.AppendAsync<TEntry>(
        ILogEntryProducer<TEntry> entries, long startIndex, bool skipCommitted, CancellationToken token)
    {
        await AppendAsync(entries, startIndex, skipCommitted, token).ConfigureAwait(false);
        if (flushBeforeAck)
        {
            await FlushAsync(token).ConfigureAwait(false);
        }
    }
}
