using System.Buffers;
using System.Threading.Channels;
using DotNext.Buffers;
using DotNext.Net.Cluster.Consensus.Raft;
using Flotilla.Node.Store;

namespace Flotilla.Node.Cluster;

/// <summary>
/// Leader-side group commit: proposals that arrive while earlier ones are being replicated
/// ride together in the next log entry, so the commit rate is not one fsync per job. A few
/// entries are kept in flight at once; the log batches their appends too.
/// </summary>
/// <remarks>
/// Nothing a proposal holds may end a commit loop: commands are checked on arrival
/// (<see cref="CommandRules.Check"/>), and everything after the dequeue runs inside one try.
/// Once an entry may have been appended, a failure is an unknown outcome, never "not written":
/// DotNext appends before it waits for the commit, so the next leader may still commit it.
/// </remarks>
internal sealed partial class GroupCommit(RaftNode node, TimeProvider time, ILogger<GroupCommit> logger) : BackgroundService
{
    private const int InFlightEntries = 4;
    private const int MaxCommandsPerEntry = 4096;

    // A soft cap on an entry's size, so one entry never holds thousands of 1 MiB payloads.
    private const long MaxBytesPerEntry = 8 * 1024 * 1024;

    // Up to one buffer per entry in flight, of each size an entry's encoding grows through.
    private static readonly ArrayPool<byte> EntryBuffers = ArrayPool<byte>.Create(2 * (int)MaxBytesPerEntry, InFlightEntries);

    // How long a new leader's proposals wait for its first entry to commit before they go ahead regardless.
    private static readonly TimeSpan BarrierWait = TimeSpan.FromSeconds(2);

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Lock _drain = new();
    private int _pushes;
    private long _barrierTerm = -1;

    public Task<Proposed> ProposeAsync(IReadOnlyList<Command> commands, CancellationToken token)
    {
        foreach (var command in commands)
        {
            if (CommandRules.Check(command) is { } problem)
            {
                throw new InvalidCommandException(problem);
            }
        }

        var pending = new Pending(commands, commands.Sum(CommandRules.EstimateBytes), new TaskCompletionSource<Proposed>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new NoLeaderException("This node is shutting down.");
        }

        return pending.Done.Task.WaitAsync(token);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, InFlightEntries).Select(_ => Task.Run(() => CommitLoopAsync(stoppingToken), stoppingToken)));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        while (_queue.Reader.TryRead(out var left))
        {
            left.Done.TrySetException(new NoLeaderException("This node is shutting down."));
        }
    }

    private async Task CommitLoopAsync(CancellationToken token)
    {
        var units = new List<Pending>();
        var commands = new List<Command>();
        while (await _queue.Reader.WaitToReadAsync(token).ConfigureAwait(false))
        {
            units.Clear();
            commands.Clear();
            if (await WaitForTermBarrierAsync(token).ConfigureAwait(false))
            {
                // Every loop that waited for the barrier wakes as it commits: taking turns, the
                // first takes all that piled up into one entry. Taking items in parallel split
                // them into entries appended microseconds apart, and the log's flusher takes only
                // what was appended when its cycle starts: the later entries (a new leader's
                // first writes among them) waited for a second flush, 0.4 s more on a slow disk.
                lock (_drain)
                {
                    Take(units, commands);
                }
            }
            else
            {
                Take(units, commands);
            }

            if (units.Count > 0)
            {
                await CommitAsync(units, commands, token).ConfigureAwait(false);
            }
        }
    }

    private void Take(List<Pending> units, List<Command> commands)
    {
        long bytes = 0;
        while (commands.Count < MaxCommandsPerEntry && bytes < MaxBytesPerEntry && _queue.Reader.TryRead(out var next))
        {
            units.Add(next);
            commands.AddRange(next.Commands);
            bytes += next.Bytes;
        }
    }

    // A new leader's first entry (DotNext's write barrier) commits once it is on the leader's disk
    // and a follower's. DotNext's leader commits what a round sent only after its own log's
    // flusher has written all of it, and the flusher takes what was appended when it starts: a
    // proposal appended just behind the barrier made the first round wait for a second flush of
    // the leader's log, and the barrier for a second round. So proposals (which pile up in the
    // queue meanwhile and then ride together) wait until the barrier is applied, for this term only.
    // True when this call waited for it.
    private async Task<bool> WaitForTermBarrierAsync(CancellationToken token)
    {
        if (node.Cluster is not { Leader.IsRemote: false } cluster || cluster.Term == Volatile.Read(ref _barrierTerm))
        {
            return false;
        }

        var term = cluster.Term;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(token);
        limit.CancelAfter(BarrierWait);
        try
        {
            await cluster.WaitForLeadershipAsync(limit.Token).ConfigureAwait(false);
            if (cluster.Term == term)
            {
                Volatile.Write(ref _barrierTerm, term);
            }
        }
        catch (Exception ex) when (!token.IsCancellationRequested && ex is not OutOfMemoryException)
        {
            // Not applied in time, no longer the leader, Raft stopping: go on as before (CommitAsync
            // checks leadership). Nothing here may end a commit loop.
        }

        return true;
    }

    private async Task CommitAsync(List<Pending> units, List<Command> commands, CancellationToken token)
    {
        var appended = false;
        try
        {
            var cluster = node.Cluster ?? throw new NoLeaderException("Raft has not started yet.");
            if (cluster.Leader is not { IsRemote: false })
            {
                throw new NoLeaderException("This node is no longer the leader.");
            }

            var batch = new CommandBatch(Guid.CreateVersion7(), time.GetUtcNow().ToUnixTimeMilliseconds(), commands.ToArray()) { Leader = node.NodeId };

            // An entry of a few thousand jobs is 0.3-1 MiB: encoded into a buffer of a small pool
            // of this class's own, not a new array on the large object heap each time, nor the
            // shared pool (which keeps such arrays per thread, for every thread that ever ran a
            // commit). DotNext copies the entry into its log before ReplicateAsync goes on to
            // wait for the commit, so the buffer is free again once it returns or throws.
            using var payload = new PoolingArrayBufferWriter<byte>(EntryBuffers);
            CommandCodec.Encode(batch, payload);
            var proposal = new Proposal();

            // Returns once a majority has the entry on disk and the leader has applied it.
            appended = true;
            await cluster.ReplicateAsync(payload.WrittenMemory, proposal, token).ConfigureAwait(false);

            // Proposals already waiting go into the next entry at once (this loop takes them as
            // it returns), and that entry's round carries this commit index: no round of its own.
            if (_queue.Reader.Count == 0)
            {
                PushCommitIndex(cluster);
            }

            var results = proposal.Results
                ?? throw new InvalidOperationException("The entry committed but its results did not reach the proposer.");
            var offset = 0;
            foreach (var unit in units)
            {
                unit.Done.TrySetResult(new Proposed(results.Skip(offset).Take(unit.Commands.Count).ToArray(), proposal.Index));
                offset += unit.Commands.Count;
            }

            LogCommitted(commands.Count, units.Count);
        }
        catch (Exception ex)
        {
            Exception error = ex switch
            {
                NoLeaderException or InvalidCommandException => ex,
                _ when !appended => new NoLeaderException(ex.Message),
                OperationCanceledException when token.IsCancellationRequested => new WriteOutcomeUnknownException("The node stopped while the write was in flight; it may or may not be applied."),
                _ => new WriteOutcomeUnknownException($"The write may or may not be applied ({ex.GetType().Name}: {ex.Message})."),
            };
            foreach (var unit in units)
            {
                unit.Done.TrySetException(error);
            }
        }
    }

    // Followers learn a commit index only with the leader's next message, which at idle is the
    // next heartbeat (half the election timeout). Replicating again at once tells them within
    // one round trip, so their workers see assignments and their clients their own writes in
    // milliseconds. One push at a time is enough: it carries the latest commit index. Under
    // load the next entry's round carries it anyway (see CommitAsync).
    private void PushCommitIndex(RaftCluster cluster)
    {
        if (Interlocked.Increment(ref _pushes) != 1)
        {
            return; // the running push loop will go round once more
        }

        _ = Task.Run(async () =>
        {
            var seen = Volatile.Read(ref _pushes);
            do
            {
                try
                {
                    await cluster.ForceReplicationAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is InvalidOperationException or NotLeaderException or OperationCanceledException)
                {
                    // Leadership moved; the next leader's heartbeats carry the index instead.
                }
            }
            while ((seen = Interlocked.Add(ref _pushes, -seen)) > 0);
        });
    }

    [LoggerMessage(EventId = 1301, Level = LogLevel.Trace, Message = "Committed {Commands} command(s) from {Proposals} proposal(s) in one entry")]
    private partial void LogCommitted(int commands, int proposals);

    private sealed record Pending(IReadOnlyList<Command> Commands, long Bytes, TaskCompletionSource<Proposed> Done);
}
