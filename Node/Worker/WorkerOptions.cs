namespace Flotilla.Node.Worker;

/// <summary>The <c>Worker:*</c> settings of a node's worker.</summary>
internal sealed class WorkerOptions
{
    public const string Section = "Worker";

    /// <summary>Jobs this node runs at once; defaults to the number of cores.</summary>
    public int Slots { get; set; } = Environment.ProcessorCount;

    /// <summary>How long a claim holds a job without renewal before another node may take it.</summary>
    public int LeaseMs { get; set; } = 30_000;

    /// <summary>
    /// Most jobs queued on this node beyond its slots. The worker asks for about 50 ms of work
    /// (from recent run times), never more than this: short jobs never wait for a round trip,
    /// long ones are not hoarded by one node.
    /// </summary>
    public int Prefetch { get; set; } = 256;

    /// <summary>While it has work, the worker renews its offer this often; it counts as alive for three of these.</summary>
    public int HeartbeatMs { get; set; } = 1_000;

    /// <summary>Fallback wake-up when nothing else woke the worker.</summary>
    public int PollMs { get; set; } = 1_000;

    /// <summary>Default run timeout for workflows that set none (per job <c>timeout_ms</c> wins).</summary>
    public int DefaultTimeoutMs { get; set; } = 30_000;

    /// <summary>On shutdown, how long running jobs may finish before their leases hand them back.</summary>
    public int ShutdownGraceMs { get; set; } = 10_000;

    /// <summary>Set false to run a node that stores and replicates but never executes jobs.</summary>
    public bool Enabled { get; set; } = true;
}
