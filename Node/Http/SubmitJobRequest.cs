using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Flotilla.Node.Http;

/// <summary>
/// One job as a client submits it (<c>POST /jobs</c>, an element of <c>POST /jobs/batch</c>),
/// and the rules it must meet; nothing is proposed until every job of a request is valid.
/// The Api compiles this same file, so it refuses exactly what a node would, with the same
/// messages, before any node sees the request (the node checks again: it is the authority).
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

    /// <summary>A request holds at most this many jobs (<c>POST /jobs/batch</c>).</summary>
    public const int MaxBatch = 1000;

    /// <summary>
    /// How request bodies are read: snake_case and strict, so a misspelt field ("max_attempt")
    /// is an error rather than a silent default.
    /// </summary>
    public static readonly JsonSerializerOptions RequestJson = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };
    public const int DefaultMaxAttempts = 5;
    public const string DefaultQueue = "default";
    private static readonly TimeSpan MaxDelay = TimeSpan.FromDays(366);

    /// <summary>Checks every field; returns when the job is due (Unix ms), or null with <paramref name="errors"/> filled.</summary>
    public long? Check(long now, string prefix, Dictionary<string, string[]> errors)
    {
        var before = errors.Count;
        if (string.IsNullOrWhiteSpace(Workflow))
        {
            errors[prefix + "workflow"] = ["workflow is required."];
        }
        else if (!NamePattern().IsMatch(Workflow))
        {
            errors[prefix + "workflow"] = ["workflow must be 1-64 characters of a-z, A-Z, 0-9, '.', '_' or '-'."];
        }

        if (Encoding.UTF8.GetByteCount(PayloadJson()) > MaxPayloadBytes)
        {
            errors[prefix + "payload"] = [$"payload is larger than {MaxPayloadBytes} bytes."];
        }

        CheckShape(prefix, errors);

        var queue = Queue ?? DefaultQueue;
        if (!NamePattern().IsMatch(queue))
        {
            errors[prefix + "queue"] = ["queue must be 1-64 characters of a-z, A-Z, 0-9, '.', '_' or '-'."];
        }

        if (Priority is < -1000 or > 1000)
        {
            errors[prefix + "priority"] = ["priority must be between -1000 and 1000 (higher runs first)."];
        }

        long runAt = now;
        if (RunAt is not null && DelayMs is not null)
        {
            errors[prefix + "run_at"] = ["give run_at or delay_ms, not both."];
        }
        else if (DelayMs is { } delay)
        {
            if (delay < 0 || delay > (long)MaxDelay.TotalMilliseconds)
            {
                errors[prefix + "delay_ms"] = ["delay_ms must be between 0 and one year."];
            }
            else
            {
                runAt = now + delay;
            }
        }
        else if (RunAt is { } at)
        {
            runAt = at.ToUnixTimeMilliseconds();
            if (runAt > now + (long)MaxDelay.TotalMilliseconds)
            {
                errors[prefix + "run_at"] = ["run_at must be within one year."];
            }
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

        return errors.Count > before ? null : runAt;
    }

    /// <summary>Adds an error per bad field (keys prefixed, e.g. <c>[3].priority</c>); true when there was none.</summary>
    public bool Validate(DateTimeOffset now, string prefix, Dictionary<string, string[]> errors) =>
        Check(now.ToUnixTimeMilliseconds(), prefix, errors) is not null;

    /// <summary>The rule for <c>POST /new-job</c>'s <c>url</c> field: an absolute http(s) URL.</summary>
    public const string JobUrlRule = "url must be an absolute http(s) URL.";

    public static bool IsJobUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    /// <summary>Whether a workflow or queue name is well formed.</summary>
    public static bool IsName(string value) => NamePattern().IsMatch(value);

    /// <summary>The payload as stored: its JSON text, <c>null</c> when absent.</summary>
    public string PayloadJson() => Payload is { } p ? p.GetRawText() : "null";

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex NamePattern();
}
