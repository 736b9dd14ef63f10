using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Cluster.Tests;

// The wire shapes of the HTTP contract as a client sees them (snake_case JSON).

internal sealed record ClusterHealthDto(
    bool IsHealthy, int NodeCount, bool HasLeader, string? Leader, long Term, long CommitIndex, string NodeId, string State);

internal sealed record StoreStateDto(string NodeId, long AppliedIndex, string Checksum, Dictionary<string, long> Jobs);

internal sealed record JobDto(
    string JobId, string Status, string Workflow, string Queue, int Priority, JsonElement Payload, int Attempts,
    int MaxAttempts, string? ClaimedBy, string? CompletedBy, DateTimeOffset RunAt, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    JsonElement? Result, string? Error, string? IdempotencyKey, DateTimeOffset? StartedAt = null);

internal sealed record JobPageDto(List<JobDto> Jobs, string? NextAfter);

internal static class Json
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}
