using System.Text.Json.Serialization;

namespace Flotilla.Node.Store;

// The replicated command set. A command says what to change; the time it happens at comes
// from the batch it rides in (stamped once by the leader), so apply never reads a clock.

[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(SubmitJobs), "submit_jobs")]
[JsonDerivedType(typeof(ClaimJobs), "claim_jobs")]
[JsonDerivedType(typeof(RenewLeases), "renew_leases")]
[JsonDerivedType(typeof(CompleteJob), "complete_job")]
[JsonDerivedType(typeof(FailJob), "fail_job")]
[JsonDerivedType(typeof(CancelJob), "cancel_job")]
[JsonDerivedType(typeof(RescueExpiredLeases), "rescue_expired_leases")]
[JsonDerivedType(typeof(RegisterWorkflow), "register_workflow")]
internal abstract record Command;

/// <summary>A job as proposed: its id is chosen by the proposer (UUIDv7), so it is known before commit.</summary>
internal sealed record NewJob(
    string JobId,
    string Workflow,
    string Payload,
    string Queue,
    int Priority,
    long RunAt,
    int MaxAttempts,
    string? IdempotencyKey,
    string? TraceParent,
    int? TimeoutMs);

/// <summary>Adds jobs all-or-nothing. A job whose idempotency key exists yields the existing job.</summary>
internal sealed record SubmitJobs(IReadOnlyList<NewJob> Jobs) : Command;

/// <summary>Gives up to <paramref name="Max"/> eligible jobs to <paramref name="Node"/>, ordered by (priority desc, run_at, id).</summary>
internal sealed record ClaimJobs(string Node, int Max, long LeaseMs, IReadOnlyList<string>? Queues = null) : Command;

/// <summary>A job and the attempt a node believes it is running: the fencing token.</summary>
internal sealed record JobAttempt(string JobId, int Attempt);

/// <summary>Extends the leases of jobs still held by <paramref name="Node"/> at the given attempts.</summary>
internal sealed record RenewLeases(string Node, IReadOnlyList<JobAttempt> Jobs, long LeaseMs) : Command;

/// <summary>Marks a job completed, only if (node, attempt) still holds the claim.</summary>
internal sealed record CompleteJob(string JobId, string Node, int Attempt, string? Result) : Command;

/// <summary>Fails an attempt, only if (node, attempt) still holds the claim: retried with backoff or failed for good.</summary>
internal sealed record FailJob(string JobId, string Node, int Attempt, string Error) : Command;

/// <summary>Cancels a job that has not finished.</summary>
internal sealed record CancelJob(string JobId) : Command;

/// <summary>Returns running jobs whose lease ran out to pending (or fails them after max attempts).</summary>
internal sealed record RescueExpiredLeases : Command;

/// <summary>Registers (or replaces) a named WebAssembly module, addressed by its SHA-256, with its default run timeout.</summary>
internal sealed record RegisterWorkflow(string Name, string Sha256, byte[] Module, int? TimeoutMs = null) : Command;

/// <summary>What one Raft log entry carries: commands proposed together, and the leader's clock.</summary>
internal sealed record CommandBatch(Guid BatchId, long Now, IReadOnlyList<Command> Commands);
