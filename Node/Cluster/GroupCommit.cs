using System.Threading.Channels;
using DotNext.Net.Cluster.Consensus.Raft;
using Flotilla.Node.Store;

namespace Flotilla.Node.Cluster;

/// <summary>
/// Leader-side group commit: proposals that arrive while earlier ones are being replicated
/// ride together in the next log entry, so the commit rate is not one fsync per job. A few
/// entries are kept in flight at once; the log batches their appends too.
/// </summary>
internal sealed partial class GroupCommit(RaftNode node, TimeProvider time, ILogger<GroupCommit> logger) : BackgroundService
{
    private const int InFlightEntries = 4;
    private const int MaxCommandsPerEntry = 2048;

    // A soft cap on an entry's size, so one entry never holds thousands of 1 MiB payloads.
    private const long MaxBytesPerEntry = 8 * 1024 * 1024;

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = false });

    public Task<Proposed> ProposeAsync(IReadOnlyList<Command> commands, CancellationToken token)
    {
        var pending = new Pending(commands, new TaskCompletionSource<Proposed>(TaskCreationOptions.RunContinuationsAsynchronously));
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
            long bytes = 0;
            while (commands.Count < MaxCommandsPerEntry && bytes < MaxBytesPerEntry && _queue.Reader.TryRead(out var next))
            {
                units.Add(next);
                commands.AddRange(next.Commands);
                bytes += next.Commands.Sum(EstimateBytes);
            }

            if (units.Count > 0)
            {
                await CommitAsync(units, commands, token).ConfigureAwait(false);
            }
        }
    }

    private async Task CommitAsync(List<Pending> units, List<Command> commands, CancellationToken token)
    {
        try
        {
            var cluster = node.Cluster ?? throw new NoLeaderException("Raft has not started yet.");
            var batch = new CommandBatch(Guid.CreateVersion7(), time.GetUtcNow().ToUnixTimeMilliseconds(), commands.ToArray());
            var proposal = new Proposal();

            // Returns once a majority has the entry on disk and the leader has applied it.
            await cluster.ReplicateAsync(CommandCodec.Encode(batch), proposal, token).ConfigureAwait(false);

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
            var error = ex is NotLeaderException ? new NoLeaderException("Leadership moved while the write was in flight.") : ex;
            foreach (var unit in units)
            {
                unit.Done.TrySetException(error);
            }
        }
    }

    private static long EstimateBytes(Command command) => command switch
    {
        SubmitJobs submit => submit.Jobs.Sum(j => 256L + j.Payload.Length),
        RegisterWorkflow register => 256L + (register.Module.Length * 4 / 3),
        _ => 256,
    };

    [LoggerMessage(EventId = 1301, Level = LogLevel.Trace, Message = "Committed {Commands} command(s) from {Proposals} proposal(s) in one entry")]
    private partial void LogCommitted(int commands, int proposals);

    private sealed record Pending(IReadOnlyList<Command> Commands, TaskCompletionSource<Proposed> Done);
}
