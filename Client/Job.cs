using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Client;

/// <summary>
/// A job as every node and the Api show it (<c>GET /jobs/{id}</c>). Times are UTC and stamped by
/// the cluster; <see cref="Payload"/> and <see cref="Result"/> are the JSON the workflow got and gave.
/// </summary>
/// <param name="JobId">The job's id (a UUIDv7: sorted by creation time).</param>
/// <param name="Status">Where the job is in its life.</param>
/// <param name="Workflow">The registered workflow that runs it.</param>
/// <param name="Queue">Its queue (<c>default</c> unless given).</param>
/// <param name="Priority">-1000 to 1000; higher runs first.</param>
/// <param name="Payload">The JSON the workflow reads on stdin.</param>
/// <param name="Attempts">Attempts started so far.</param>
/// <param name="MaxAttempts">Attempts allowed before the job fails for good.</param>
/// <param name="ClaimedBy">The node running (or that last ran) it.</param>
/// <param name="CompletedBy">The node whose attempt finished it.</param>
/// <param name="RunAt">When it is (or was) due.</param>
/// <param name="CreatedAt">When the cluster accepted it.</param>
/// <param name="UpdatedAt">Its last change.</param>
/// <param name="LeaseUntil">While running: when the claim lapses unless renewed.</param>
/// <param name="Result">The workflow's JSON output, once completed.</param>
/// <param name="Error">Why the last attempt failed.</param>
/// <param name="IdempotencyKey">The key it was submitted with, if any.</param>
/// <param name="TimeoutMs">Its own run timeout, if one was given.</param>
/// <param name="StartedAt">When its last finished attempt started (the running node's clock).</param>
/// <param name="TraceId">
/// The W3C trace id of the request that submitted it: its claim and runs are spans of that
/// trace. Absent (not null) for a job submitted outside any trace.
/// </param>
/// <param name="Parks">
/// How often a durable workflow parked in a long sleep (pending until its wake-up, its slot
/// freed; not an attempt). Absent while 0.
/// </param>
/// <param name="ModuleSha256">
/// The SHA-256 of the module version the job runs: the one its workflow named when it was
/// submitted, whatever is registered under that name later. Absent for a job stored before pinning.
/// </param>
public sealed record Job(
    string JobId,
    JobStatus Status,
    string Workflow,
    string Queue,
    int Priority,
    JsonElement Payload,
    int Attempts,
    int MaxAttempts,
    string? ClaimedBy,
    string? CompletedBy,
    DateTimeOffset RunAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? LeaseUntil,
    JsonElement? Result,
    string? Error,
    string? IdempotencyKey,
    int? TimeoutMs,
    DateTimeOffset? StartedAt = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? TraceId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Parks = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ModuleSha256 = null)
{
    /// <summary>True once the job is completed, failed or cancelled: it will not change again.</summary>
    [JsonIgnore]
    public bool IsFinished => Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;

    /// <summary>Fields a newer server sends that this version does not know; kept, and passed on when re-serialized.</summary>
    [JsonExtensionData]
    public IDictionary<string, JsonElement>? Extra { get; init; }
}
