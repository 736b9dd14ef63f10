namespace Flotilla.Node.Store;

/// <summary>
/// One row of the jobs table. Times are Unix milliseconds stamped by the leader, except
/// <see cref="StartedAt"/>: when the last finished attempt started, by the clock of the node
/// that ran it (shown to users, never used to decide anything).
/// </summary>
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
    long? StartedAt = null);
