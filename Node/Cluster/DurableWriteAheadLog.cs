using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace Flotilla.Node.Cluster;

/// <summary>
/// Two changes to DotNext 6.12's write-ahead log, both on the 6.12.0 call path (the version is
/// pinned in Directory.Packages.props):
/// <list type="bullet">
/// <item>A follower answers AppendEntries only once the new entries are on its disk. DotNext's
/// log lets it answer before; then an acknowledged job can live on the leader's disk only, and a
/// crash of every node loses it (and splits the databases). tests/Cluster.Tests/DurabilityTests.cs
/// reproduces the loss if it ever regresses. The flush comes after the request's commit, not
/// before it: DotNext's follower appends the new entries, then commits what the leader says is
/// committed, then answers. Entries committed by then were flushed by an earlier request (or the
/// base commit waits for them), so applying them need not wait for the new entries' flush: a job
/// assigned to this node starts without waiting for it, and the answer still waits for the disk.</item>
/// <item>A leader's commit that must wait for its own disk no longer holds up its heartbeats.
/// DotNext's leader runs one loop: replicate a round, then commit what a majority holds, which
/// waits until the leader's own flush covers it, then the next round. On a slow disk that wait
/// (a flush cycle, or two when the entries came in during one) stops every heartbeat and every
/// replication for its length, so followers with fast disks give up on a live leader, and
/// entries that came in meanwhile reach the followers only after it. Here that commit is left
/// to finish on its own: the log still marks nothing committed before the leader's copy is on
/// disk and a majority holds it (the base commit waits for both), but the loop goes on at once.
/// A failed commit is thrown from the next one, which ends the leader's loop as before.</item>
/// </list>
/// </summary>
internal sealed class DurableWriteAheadLog(
    WriteAheadLog.Options options, IStateMachine stateMachine, bool flushBeforeAck = true)
    : WriteAheadLog(options, stateMachine), IAuditTrail<IRaftLogEntry>, IAuditTrail
{
    // DotNext's flush wait has room for one waiter at a time (the leader's loop was the only
    // one): one detached commit runs at once, and later calls only raise the index it goes to.
    private readonly Lock _sync = new();
    private bool _committing;
    private long _wanted;
    private volatile Task _committer = Task.CompletedTask;
    private Exception? _detachedFailure;
    private int _flushAfterCommit;

    async ValueTask IAuditTrail<IRaftLogEntry>.AppendAsync<TEntry>(
        ILogEntryProducer<TEntry> entries, long startIndex, bool skipCommitted, CancellationToken token)
    {
        // A follower's append waits for its flush: a commit detached while this node led (its
        // term's end cancels it) must be out of the way first.
        await _committer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await AppendAsync(entries, startIndex, skipCommitted, token).ConfigureAwait(false);
        if (flushBeforeAck)
        {
            // Taken by the commit DotNext's follower calls next, before it answers.
            Volatile.Write(ref _flushAfterCommit, 1);
        }
    }

    ValueTask<long> IAuditTrail.CommitAsync(long endIndex, CancellationToken token)
    {
        if (Interlocked.Exchange(ref _detachedFailure, null) is { } failure)
        {
            return ValueTask.FromException<long>(failure);
        }

        if (Interlocked.Exchange(ref _flushAfterCommit, 0) == 1)
        {
            return CommitThenFlushAsync(endIndex, token);
        }

        lock (_sync)
        {
            if (_committing)
            {
                _wanted = Math.Max(_wanted, endIndex);
                return ValueTask.FromResult(0L);
            }

            var commit = CommitAsync(endIndex, token);
            if (commit.IsCompleted)
            {
                return commit;
            }

            // Waiting for this node's own flush: only a leader commits past it (a follower
            // flushes before it answers). Nothing counts as committed any sooner.
            _committing = true;
            _wanted = endIndex;
            _committer = CommitDetachedAsync(commit.AsTask(), token);
            return ValueTask.FromResult(0L);
        }
    }

    // A follower's commit inside AppendEntries: apply what is committed, then put the new entries
    // on disk before DotNext answers the leader.
    private async ValueTask<long> CommitThenFlushAsync(long endIndex, CancellationToken token)
    {
        var committed = await CommitAsync(endIndex, token).ConfigureAwait(false);
        await FlushAsync(token).ConfigureAwait(false);
        return committed;
    }

    private async Task CommitDetachedAsync(Task<long> first, CancellationToken token)
    {
        try
        {
            await first.ConfigureAwait(false);
            while (true)
            {
                long next;
                lock (_sync)
                {
                    next = _wanted;
                    if (next <= LastCommittedEntryIndex)
                    {
                        // Released under the lock that decided it, and only here: a call that
                        // comes in after may start the next detached commit at once, and clearing
                        // the flag again later (as a finally did) would let a third start beside it.
                        _committing = false;
                        return;
                    }
                }

                await CommitAsync(next, token).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            // Cancelled: the term ended or the log is closing, and the next leader's rounds carry
            // the commit. Anything else is thrown from the next commit call.
            if (e is not (OperationCanceledException or ObjectDisposedException))
            {
                _detachedFailure = e;
            }

            lock (_sync)
            {
                _committing = false;
            }
        }
    }
}
