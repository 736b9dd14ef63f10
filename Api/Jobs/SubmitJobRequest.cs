using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Flotilla.Api.Jobs;

/// <summary>
/// One job as a client submits it (<c>POST /jobs</c>, an element of <c>POST /jobs/batch</c>).
/// The Api checks it before any node sees it; the rules and messages are the node's
/// (<c>Node/Http/SubmitJobRequest.cs</c>), kept as a copy rather than shared source because the
/// node's version builds its store command in the same pass. The node checks again: it is the
/// authority, this is the early, cheap answer.
/// </summary>
internal sealed partial record SubmitJobRequest(
    string? Workflow,
    JsonElement? Payload,
    string? Queue,
    int? Priority,
    DateTimeOffset? RunAt,
    long? DelayMs,
    int? MaxAttempts,
    string? IdempotencyKey,
    int? TimeoutMs)
{
    public const int MaxPayloadBytes = 1024 * 1024;
    private static readonly TimeSpan MaxDelay = TimeSpan.FromDays(366);

    /// <summary>Adds an error per bad field (keys prefixed, e.g. <c>[3].priority</c>); true when there was none.</summary>
    public bool Validate(DateTimeOffset now, string prefix, Dictionary<string, string[]> errors)
    {
        var before = errors.Count;
        if (string.IsNullOrWhiteSpace(Workflow))
        {
            errors[prefix + "workflow"] = ["workflow is required."];
        }
        else if (!IsName(Workflow))
        {
            errors[prefix + "workflow"] = ["workflow must be 1-64 characters of a-z, A-Z, 0-9, '.', '_' or '-'."];
        }

        if (Payload is { } payload && Encoding.UTF8.GetByteCount(payload.GetRawText()) > MaxPayloadBytes)
        {
            errors[prefix + "payload"] = [$"payload is larger than {MaxPayloadBytes} bytes."];
        }

        if (Queue is not null && !IsName(Queue))
        {
            errors[prefix + "queue"] = ["queue must be 1-64 characters of a-z, A-Z, 0-9, '.', '_' or '-'."];
        }

        if (Priority is < -1000 or > 1000)
        {
            errors[prefix + "priority"] = ["priority must be between -1000 and 1000 (higher runs first)."];
        }

        if (RunAt is not null && DelayMs is not null)
        {
            errors[prefix + "run_at"] = ["give run_at or delay_ms, not both."];
        }
        else if (DelayMs is < 0 || DelayMs > (long)MaxDelay.TotalMilliseconds)
        {
            errors[prefix + "delay_ms"] = ["delay_ms must be between 0 and one year."];
        }
        else if (RunAt is { } at && at > now + MaxDelay)
        {
            errors[prefix + "run_at"] = ["run_at must be within one year."];
        }

        if (MaxAttempts is < 1 or > 100)
        {
            errors[prefix + "max_attempts"] = ["max_attempts must be between 1 and 100."];
        }

        if (IdempotencyKey is { Length: 0 or > 256 })
        {
            errors[prefix + "idempotency_key"] = ["idempotency_key must be 1-256 characters."];
        }

        if (TimeoutMs is < 1 or > 24 * 3600 * 1000)
        {
            errors[prefix + "timeout_ms"] = ["timeout_ms must be between 1 and 86400000."];
        }

        return errors.Count == before;
    }

    /// <summary>Workflow and queue names: what the nodes accept, and safe in a URL path segment.</summary>
    public static bool IsName(string value) => NamePattern().IsMatch(value);

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex NamePattern();
}
