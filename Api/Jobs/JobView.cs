using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Api.Jobs;

/// <summary>
/// A job as the nodes show it. <c>status</c> is one of pending, running, completed, failed,
/// cancelled. Fields a newer node adds are kept and passed on unchanged.
/// </summary>
internal sealed record JobView(
    string JobId,
    string Status,
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
    int? TimeoutMs)
{
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; init; }
}

/// <summary>A page of <c>GET /jobs</c>: pass <c>next_after</c> as <c>after</c> for the next page.</summary>
internal sealed record JobPage(IReadOnlyList<JobView> Jobs, string? NextAfter);
