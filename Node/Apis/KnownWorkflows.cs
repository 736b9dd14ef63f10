using Flotilla.Node.Cluster;
using Flotilla.Node.Store;

namespace Flotilla.Node.Apis;

/// <summary>
/// A job for a workflow that is not registered is refused at the node (400, the Api's message)
/// instead of being stored and failed later. The check reads this node's own copy of the
/// registry; a name it does not know yet (registered through another node a moment ago) gets a
/// read barrier first, so the answer is "unknown" only once this node has caught up with the leader.
/// The names are kept between requests until the store's <see cref="JobStore.WorkflowsVersion"/>
/// moves; a name missing from them is always looked up afresh, so a registration whose version
/// moved before its entry committed is never held against a job.
/// </summary>
internal sealed class KnownWorkflows(JobStore store, ReadConsistency reads)
{
    private Names _cached = new(-1, []);

    /// <summary>Adds an error per job whose workflow is not registered; true when every one is.</summary>
    public async Task<bool> CheckAsync(IReadOnlyList<(string Workflow, string Prefix)> jobs, Dictionary<string, string[]> errors, CancellationToken token)
    {
        var known = CachedNames();
        if (jobs.All(j => known.Contains(j.Workflow)))
        {
            return true;
        }

        known = FreshNames();
        if (jobs.All(j => known.Contains(j.Workflow)))
        {
            return true;
        }

        try
        {
            await reads.EnsureAsync("strong", token);
            known = FreshNames();
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

    private HashSet<string> CachedNames()
    {
        var cached = Volatile.Read(ref _cached);
        return cached.Version == store.WorkflowsVersion ? cached.Set : FreshNames();
    }

    // The version is read before the names, so a registration that commits later moves it
    // again. One whose apply moved it but had not committed yet is missing from these names
    // while they are kept: a job naming it takes the fresh look-up in CheckAsync. Workflows are
    // never removed, so kept names never accept a job they should refuse.
    private HashSet<string> FreshNames()
    {
        var version = store.WorkflowsVersion;
        var names = store.ListWorkflows().Select(w => w.Name).ToHashSet(StringComparer.Ordinal);
        Volatile.Write(ref _cached, new Names(version, names));
        return names;
    }

    private sealed record Names(long Version, HashSet<string> Set);
}
