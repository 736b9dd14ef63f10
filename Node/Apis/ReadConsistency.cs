using DotNext.Net.Cluster.Consensus.Raft;
using Flotilla.Node.Cluster;

namespace Flotilla.Node.Apis;

/// <summary>
/// Reads come from the local database (it may trail the leader by a few milliseconds);
/// <c>?consistency=strong</c> first passes a Raft read barrier, so the read sees every write
/// acknowledged before it started.
/// </summary>
internal sealed class ReadConsistency(RaftNode node)
{
    public async Task EnsureAsync(string? consistency, CancellationToken token)
    {
        if (!string.Equals(consistency, "strong", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var cluster = node.Cluster ?? throw new NoLeaderException("Raft has not started yet.");
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await cluster.ApplyReadBarrierAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is QuorumUnreachableException or NotLeaderException or OperationCanceledException && !token.IsCancellationRequested)
        {
            throw new NoLeaderException("A strong read needs a reachable leader and majority: " + ex.Message);
        }
    }
}
