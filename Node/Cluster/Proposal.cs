using Flotilla.Node.Store;

namespace Flotilla.Node.Cluster;

/// <summary>
/// Rides along with a log entry on the leader (as the entry's context) so that apply can hand
/// the results back to the proposer that waits for them.
/// </summary>
internal sealed class Proposal
{
    public IReadOnlyList<CommandResult>? Results { get; set; }

    /// <summary>The log index the commands were applied at.</summary>
    public long Index { get; set; }
}
