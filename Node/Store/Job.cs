namespace Flotilla.Node.Store;

/// <summary>
/// One row of the jobs table. Times are Unix milliseconds stamped by the leader, except
/// <see cref="StartedAt"/>: when the last finished attempt started, by the clock of the node
/// that ran it (shown to users, never used to decide anything).
/// </summary>
/// <param name="Attempts">Attempts started, the running one included; a park (a durable sleep) gives its attempt back.</param>
/// <param name="Parks">How often the job parked: durable sleeps that freed its slot until the wake-up time.</param>
/// <param name="ModuleSha256">The module version the job runs, pinned at submit; null for a job stored before pinning (it runs the current one).</param>
internal sealed record Job(
    string JobId,
    JobStatus Status,
    string Queue,
    string Workflow,
    string Payload,
    int Priority,
    long RunAt,
    int Attempts,
    int MaxAttempts,
    string? ClaimedBy,
    long? LeaseUntil,
    string? CompletedBy,
    long CreatedAt,
    long UpdatedAt,
    string? Result,
    string? Error,
    string? IdempotencyKey,
    string? TraceParent,
    int? TimeoutMs,
    long? StartedAt = null,
    int Parks = 0,
    string? ModuleSha256 = null)
{
    /// <summary>
    /// The fencing token of the current assignment: outcomes, renewals and journal appends carry
    /// it. Every assignment adds one; a park hands its attempt back but counts a park, so the
    /// token never repeats (<see cref="Attempts"/> alone would after a park). Equal to
    /// <see cref="Attempts"/> for a job that never parked.
    /// </summary>
    public int Fence => Attempts + Parks;
}
