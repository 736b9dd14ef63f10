using System.Text.Json;
using Flotilla.Client;
using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using StoredJob = Flotilla.Node.Store.Job;
using StoredStatus = Flotilla.Node.Store.JobStatus;

namespace Flotilla.Node.Apis;

/// <summary>
/// Between the node's own types and the wire contract (<c>Flotilla.Client</c>): the store keeps
/// Unix milliseconds and JSON text, the contract shows ISO-8601 times and JSON values.
/// </summary>
internal static class Contract
{
    public static Client.Job ToContract(this StoredJob job) => new(
        job.JobId,
        job.Status.ToContract(),
        job.Workflow,
        job.Queue,
        job.Priority,
        ParseJson(job.Payload) ?? default,
        job.Attempts,
        job.MaxAttempts,
        job.ClaimedBy,
        job.CompletedBy,
        DateTimeOffset.FromUnixTimeMilliseconds(job.RunAt),
        DateTimeOffset.FromUnixTimeMilliseconds(job.CreatedAt),
        DateTimeOffset.FromUnixTimeMilliseconds(job.UpdatedAt),
        job.LeaseUntil is { } lease ? DateTimeOffset.FromUnixTimeMilliseconds(lease) : null,
        job.Result is null ? null : ParseJson(job.Result),
        job.Error,
        job.IdempotencyKey,
        job.TimeoutMs,
        job.StartedAt is { } started ? DateTimeOffset.FromUnixTimeMilliseconds(started) : null,
        TraceIdOf(job.TraceParent),
        job.Parks,
        job.ModuleSha256);

    public static JobCounts ToContract(this IReadOnlyDictionary<StoredStatus, long> counts) => new(
        counts.GetValueOrDefault(StoredStatus.Pending),
        counts.GetValueOrDefault(StoredStatus.Running),
        counts.GetValueOrDefault(StoredStatus.Completed),
        counts.GetValueOrDefault(StoredStatus.Failed),
        counts.GetValueOrDefault(StoredStatus.Cancelled));

    // A W3C traceparent is "00-<32 hex trace id>-<16 hex span id>-<flags>".
    private static string? TraceIdOf(string? traceParent) =>
        traceParent?.Split('-') is [_, { Length: 32 } traceId, _, _] ? traceId : null;

    public static Client.JobStatus ToContract(this StoredStatus status) => status switch
    {
        StoredStatus.Pending => Client.JobStatus.Pending,
        StoredStatus.Running => Client.JobStatus.Running,
        StoredStatus.Completed => Client.JobStatus.Completed,
        StoredStatus.Failed => Client.JobStatus.Failed,
        StoredStatus.Cancelled => Client.JobStatus.Cancelled,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static StoredStatus ToStored(this Client.JobStatus status) => status switch
    {
        Client.JobStatus.Pending => StoredStatus.Pending,
        Client.JobStatus.Running => StoredStatus.Running,
        Client.JobStatus.Completed => StoredStatus.Completed,
        Client.JobStatus.Failed => StoredStatus.Failed,
        Client.JobStatus.Cancelled => StoredStatus.Cancelled,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static WorkflowView ToContract(this WorkflowInfo info, int? size) =>
        new(info.Name, info.Sha256, DateTimeOffset.FromUnixTimeMilliseconds(info.RegisteredAt), info.TimeoutMs, size);

    public static ClusterHealthView ToContract(this ClusterHealth health) => new(
        health.IsHealthy,
        health.NodeCount,
        health.HasLeader,
        health.Leader,
        health.LeaderUrl,
        health.Term,
        health.CommitIndex,
        health.NodeId,
        health.State,
        health.Members);

    /// <summary>The job to propose, or null with <paramref name="errors"/> filled.</summary>
    public static NewJob? ToNewJob(
        this SubmitJobRequest request, string jobId, long now, string? traceParent, string prefix, Dictionary<string, string[]> errors) =>
        request.Check(now, prefix, errors) is { } runAt
            ? new NewJob(
                jobId, request.Workflow!, request.PayloadJson(), request.Queue ?? JobRules.DefaultQueue, request.Priority ?? 0, runAt,
                request.MaxAttempts ?? JobRules.DefaultMaxAttempts, request.IdempotencyKey, traceParent, request.TimeoutMs,
                DelayMs: request.RunAt is null ? request.DelayMs ?? 0 : null) // "now" and delays are the leader's time
            : null;

    private static JsonElement? ParseJson(string json)
    {
        try
        {
            // Deeper than a payload may be (a job stored before the limit, a guest's result): shown
            // as a string, because the response writer could not write it and every read would fail.
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = JobRules.MaxPayloadDepth });
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            // A result that is not JSON is still worth showing: as a string.
            return JsonSerializer.SerializeToElement(json);
        }
    }
}
