using System.Text.Json.Serialization;

namespace Flotilla.Node.Store;

// What applying a command produced, returned to the proposer that waits for it.

[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(JobsResult), "jobs")]
[JsonDerivedType(typeof(JobChange), "job_change")]
[JsonDerivedType(typeof(CountResult), "count")]
[JsonDerivedType(typeof(Rejected), "rejected")]
internal abstract record CommandResult;

/// <summary>SubmitJobs (the stored jobs, existing ones for repeated idempotency keys) and ClaimJobs (the jobs won).</summary>
internal sealed record JobsResult(IReadOnlyList<Job> Jobs) : CommandResult;

/// <summary>CompleteJob, FailJob, CancelJob: whether it changed the job, and the job as it is now (null if unknown).</summary>
internal sealed record JobChange(bool Applied, Job? Job) : CommandResult;

/// <summary>RenewLeases, RescueExpiredLeases, RegisterWorkflow: how many rows changed.</summary>
internal sealed record CountResult(int Count) : CommandResult;

/// <summary>A command that could not apply (e.g. a malformed job); nothing of it was written.</summary>
internal sealed record Rejected(string Reason) : CommandResult;
