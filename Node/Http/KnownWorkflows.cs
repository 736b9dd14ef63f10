using Flotilla.Node.Cluster;
using Flotilla.Node.Store;

namespace Flotilla.Node.Http;

/// <summary>
/// A job for a workflow that is not registered is refused at the node (400, the Api's message)
/// instead of being stored and failed later. The check reads this node's own copy of the
/// registry; a name it does not know yet (registered through another node a moment ago) gets a
/// read barrier first, so the answer is "unknown" only once this node has caught up with the leader.
/// </summary>
internal sealed class KnownWorkflows(JobStore store, ReadConsistency reads)
{
    /// <summary>Adds an error per job whose workflow is not registered; true when every one is.</summary>
    public async Task<bool> CheckAsync(IReadOnlyList<(string Workflow, string Prefix)> jobs, Dictionary<string, string[]> errors, CancellationToken token)
    {
        var known = Names();
        if (jobs.All(j => known.Contains(j.Workflow)))
        {
            return true;
        }

        try
        {
            await reads.EnsureAsync("strong", token);
            known = Names();
        }
        catch (NoLeaderException)
        {
            // No leader to catch up with: decide on what this node has.
        }

        var allKnown = true;
        foreach (var (workflow, prefix) in jobs.Where(j => !known.Contains(j.Workflow)))
        {
            errors[prefix + "workflow"] = [$"unknown workflow '{workflow}'."];
            allKnown = false;
        }

        return allKnown;
    }

    private HashSet<string> Names() => store.ListWorkflows().Select(w => w.Name).ToHashSet(StringComparer.Ordinal);
}
