using Flotilla.Node.Store;

namespace Flotilla.Node.Worker;

/// <summary>
/// Registered workflows by name, read from the store once per registration change instead of
/// once per run (the run itself finds the compiled module in the runner's cache by SHA-256).
/// </summary>
internal sealed class WorkflowLookup(JobStore store)
{
    private volatile Snapshot _snapshot = new(-1, new Dictionary<string, WorkflowInfo>(StringComparer.Ordinal));

    public WorkflowInfo? Find(string name)
    {
        var snapshot = _snapshot;
        var version = store.WorkflowsVersion;
        if (snapshot.Version != version)
        {
            // Read the version first: a registration during the read bumps it again, and the
            // next lookup reloads.
            snapshot = new Snapshot(version, store.ListWorkflows().ToDictionary(w => w.Name, StringComparer.Ordinal));
            _snapshot = snapshot;
        }

        if (snapshot.Workflows.TryGetValue(name, out var workflow))
        {
            return workflow;
        }

        // Not in the snapshot: it may have arrived with a snapshot install; ask the store.
        return store.GetWorkflow(name);
    }

    private sealed record Snapshot(long Version, IReadOnlyDictionary<string, WorkflowInfo> Workflows);
}
