using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

/// <summary>
/// Real SQLite stores in a folder of their own (so tests can run in parallel), each with its
/// own log index counter; everything is closed and deleted on dispose.
/// </summary>
internal sealed class TempStores : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "flotilla-store-tests", Guid.NewGuid().ToString("N"));
    private readonly List<JobStore> _stores = [];
    private readonly Dictionary<JobStore, long> _nextIndex = [];

    public string Folder => _folder;

    /// <param name="localNode">The node whose assignments <see cref="JobStore.Changed"/> reports.</param>
    public JobStore Open(string name = "node", string? localNode = null)
    {
        var store = new JobStore(Path.Combine(_folder, name + ".db"), localNode);
        _stores.Add(store);
        _nextIndex[store] = store.AppliedIndex + 1;
        return store;
    }

    /// <summary>Applies the commands as the next log entry of <paramref name="store"/>, one that names no leader.</summary>
    public IReadOnlyList<CommandResult> Apply(JobStore store, long now, params Command[] commands) => ApplyFrom(store, null, now, commands);

    /// <summary>Applies the commands as the next log entry of <paramref name="store"/>, proposed by <paramref name="leader"/>.</summary>
    public IReadOnlyList<CommandResult> ApplyFrom(JobStore store, string? leader, long now, params Command[] commands)
    {
        var index = Math.Max(_nextIndex[store], store.AppliedIndex + 1);
        _nextIndex[store] = index + 1;
        return store.Apply(index, new CommandBatch(Guid.Empty, now, commands) { Leader = leader })
            ?? throw new InvalidOperationException($"Entry {index} was not applied.");
    }

    public CommandResult ApplyOne(JobStore store, long now, Command command) => Apply(store, now, command).Single();

    public IReadOnlyList<Job> Submit(JobStore store, long now, params NewJob[] jobs) =>
        Assert.IsType<JobsResult>(ApplyOne(store, now, new SubmitJobs(jobs))).Jobs;

    public IReadOnlyList<Job> Claim(JobStore store, long now, string node, int max = 10, long leaseMs = 30_000, IReadOnlyList<string>? queues = null) =>
        Assert.IsType<JobsResult>(ApplyOne(store, now, new ClaimJobs(node, max, leaseMs, queues))).Jobs;

    public static NewJob NewJob(
        string id,
        int priority = 0,
        long runAt = 0,
        int maxAttempts = 3,
        string queue = "default",
        string? idempotencyKey = null,
        string payload = """{"n":1}""") =>
        new(id, "echo", payload, queue, priority, runAt, maxAttempts, idempotencyKey, null, null);

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }

        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
