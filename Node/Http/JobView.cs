using System.Text.Json;
using Flotilla.Node.Store;

namespace Flotilla.Node.Http;

/// <summary>A job as the HTTP contract shows it: snake_case, ISO-8601 times, payload and result as JSON.</summary>
internal sealed record JobView(
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
    DateTimeOffset? StartedAt)
{
    public static JobView From(Job job) => new(
        job.JobId,
        job.Status,
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
        job.StartedAt is { } started ? DateTimeOffset.FromUnixTimeMilliseconds(started) : null);

    private static JsonElement? ParseJson(string json)
    {
        try
        {
            // Deeper than a payload may be (a job stored before the limit, a guest's result): shown
            // as a string, because the response writer could not write it and every read would fail.
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = JsonShape.MaxDepth });
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            // A result that is not JSON is still worth showing: as a string.
            return JsonSerializer.SerializeToElement(json);
        }
    }
}

/// <summary>A page of <c>GET /jobs</c>: pass <c>next_after</c> as <c>after</c> for the next page.</summary>
internal sealed record JobPage(IReadOnlyList<JobView> Jobs, string? NextAfter);
