namespace Flotilla.Node.Workflows;

/// <summary>
/// The <c>Workflows:*</c> configuration keys: the sandbox limits of every run. A run's timeout
/// is not among them: it comes with the run (the job's, else its workflow's, else
/// <c>Worker:DefaultTimeoutMs</c>), so one key sets it.
/// </summary>
internal sealed class WorkflowOptions
{
    public const string Section = "Workflows";

    /// <summary>
    /// Cap on a run's memory and tables together (the tables get 1/16 of it); growing past it
    /// fails in the guest.
    /// </summary>
    public long MaxMemoryBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>One WebAssembly page: a cap below it leaves a guest no memory at all.</summary>
    public const long MinMemoryBytes = Wasmtime.Memory.PageSize;

    /// <summary>Cap on what a run may write to stdout (its result).</summary>
    public int MaxOutputBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Runs that may execute at once on this node (the size of Wasmtime's instance pool); more
    /// wait for a free slot. Keep it at or above <c>Worker:Slots</c>.
    /// </summary>
    public int MaxConcurrentRuns { get; set; } = 128;

    /// <summary>Folder for compiled modules (<c>.cwasm</c>); null keeps them in memory only.</summary>
    public string? CacheDirectory { get; set; }
}
