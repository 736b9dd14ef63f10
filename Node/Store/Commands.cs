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
[JsonDerivedType(typeof(OfferCapacity), "offer_capacity")]
[JsonDerivedType(typeof(FinishJobs), "finish_jobs")]
[JsonDerivedType(typeof(AssignDue), "assign_due")]
[JsonDerivedType(typeof(PurgeFinishedJobs), "purge_finished_jobs")]
[JsonDerivedType(typeof(AppendJournal), "append_journal")]
[JsonDerivedType(typeof(PurgeModules), "purge_modules")]
internal abstract record Command;

/// <summary>
/// A job as proposed: its id is chosen by the proposer (UUIDv7), so it is known before commit.
/// With <paramref name="DelayMs"/> set, the job is due that long after the entry's (leader-stamped)
/// time and <paramref name="RunAt"/> is ignored, so no proposer's clock decides when it runs.
/// </summary>
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
    int? TimeoutMs,
    long? DelayMs = null);

/// <summary>
/// Adds jobs all-or-nothing. A job whose idempotency key exists yields the existing job; with
/// <paramref name="SameBodyPerKey"/>, only if it was submitted with the same body, else the
/// command is rejected (409). Entries written before the flag existed apply as they always did.
/// </summary>
internal sealed record SubmitJobs(IReadOnlyList<NewJob> Jobs, bool SameBodyPerKey = false) : Command;

/// <summary>
/// Legacy pull claim, kept so old log entries still apply: gives up to <paramref name="Max"/> eligible jobs to <paramref name="Node"/>, ordered by (priority desc, run_at, id).
/// Workers no longer propose it: due jobs are assigned inside apply (see <see cref="OfferCapacity"/>).
/// </summary>
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

/// <summary>
/// A node's worker says it is alive and will hold up to <paramref name="Capacity"/> jobs at once
/// (running plus queued locally). Every apply hands due pending jobs to live nodes with free
/// credit, so no node proposes claims and no node can hoard more than it offered. Assigned jobs
/// get a lease of <paramref name="LeaseMs"/>; the node counts as alive for new assignments
/// until <c>now + AliveMs</c> unless it offers again (a busy worker re-offers as a heartbeat,
/// an idle one lets it lapse). Capacity 0 withdraws. <paramref name="Ready"/>: how many jobs it
/// runs at once (its slots): holding fewer, it can start the next job at once; null in offers
/// written before it was carried.
/// </summary>
internal sealed record OfferCapacity(string Node, int Capacity, long LeaseMs, long AliveMs, int? Ready = null) : Command;

/// <summary>How an attempt ended.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OutcomeKind>))]
internal enum OutcomeKind
{
    /// <summary>The workflow succeeded; the text is its result.</summary>
    Completed,

    /// <summary>The attempt failed; the text is the reason. Retried with backoff or failed for good.</summary>
    Failed,

    /// <summary>The node gives the job back unrun (it is shutting down): pending again, the attempt not counted.</summary>
    Released,

    /// <summary>The attempt failed in a way a retry cannot fix (a durable workflow diverged from its journal): failed for good.</summary>
    FailedPermanently,

    /// <summary>
    /// A durable workflow parked in a long sleep: pending again until <see cref="JobOutcome.RunAt"/>
    /// (its wake-up time), then assigned and replayed; the attempt is not counted.
    /// </summary>
    Parked,
}

/// <summary>
/// The outcome of one attempt, fenced by (node, attempt) like every outcome: <paramref name="Attempt"/>
/// is the assignment's token (<see cref="Job.Fence"/>). <paramref name="StartedAt"/> is the
/// runner's clock, for display; <paramref name="RunAt"/> is when a parked job is due again.
/// </summary>
internal sealed record JobOutcome(string JobId, int Attempt, OutcomeKind Kind, string? Text, long? StartedAt = null, long? RunAt = null);

/// <summary>Outcomes of many attempts of one node in one entry; each applies only if its claim still holds.</summary>
internal sealed record FinishJobs(string Node, IReadOnlyList<JobOutcome> Outcomes) : Command;

/// <summary>Asks apply to assign jobs whose run_at has passed since the last entry (the leader's scheduler sends it).</summary>
internal sealed record AssignDue : Command;

/// <summary>Deletes up to <paramref name="Max"/> finished jobs last updated more than <paramref name="RetentionMs"/> before the entry's time.</summary>
internal sealed record PurgeFinishedJobs(long RetentionMs, int Max) : Command;

/// <summary>
/// Deletes the modules that neither a workflow names nor an unfinished job is pinned to (old
/// versions kept for the jobs that started on them); the leader's ModuleCollector sends it.
/// </summary>
internal sealed record PurgeModules : Command;

/// <summary>What one Raft log entry carries: commands proposed together, and the leader's clock.</summary>
internal sealed record CommandBatch(Guid BatchId, long Now, IReadOnlyList<Command> Commands)
{
    /// <summary>
    /// The node that proposed the entry as leader; null in entries written before it was carried.
    /// Assignment hands its worker a job first while it can start one at once (see JobStore.Assign).
    /// </summary>
    public string? Leader { get; init; }
}
