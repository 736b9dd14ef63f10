using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Client;

/// <summary>
/// One job as a client submits it (<c>POST /jobs</c>, an element of <c>POST /jobs/batch</c>), and
/// the rules it must meet. Strict: an unknown field (<c>"max_attempt"</c>) is an error rather than
/// a silent default. The Api checks with these rules before any node sees a job, and the node
/// checks again: it is the authority.
/// </summary>
/// <param name="Workflow">A registered workflow's name.</param>
/// <param name="Payload">Any JSON value up to <see cref="JobRules.MaxPayloadBytes"/>.</param>
/// <param name="Queue">The queue; <see cref="JobRules.DefaultQueue"/> when null.</param>
/// <param name="Priority">-1000 to 1000, higher runs first; 0 when null.</param>
/// <param name="RunAt">Not before this time (within a year); give this or <paramref name="DelayMs"/>.</param>
/// <param name="DelayMs">Not before this many milliseconds from now.</param>
/// <param name="MaxAttempts">1 to 100; <see cref="JobRules.DefaultMaxAttempts"/> when null.</param>
/// <param name="IdempotencyKey">1-256 characters; a second job with the same key returns the first.</param>
/// <param name="TimeoutMs">The run timeout of each attempt, 1 ms to a day.</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record SubmitJobRequest(
    string? Workflow,
    JsonElement? Payload,
    string? Queue = null,
    int? Priority = null,
    DateTimeOffset? RunAt = null,
    long? DelayMs = null,
    int? MaxAttempts = null,
    string? IdempotencyKey = null,
    int? TimeoutMs = null)
{
    /// <summary>Checks every field; returns when the job is due (Unix ms), or null with <paramref name="errors"/> filled.</summary>
    /// <param name="now">The current time, Unix ms.</param>
    /// <param name="prefix">Prefix of the error keys (<c>[3].</c> in a batch).</param>
    /// <param name="errors">Gets one entry per bad field.</param>
    public long? Check(long now, string prefix, IDictionary<string, string[]> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var before = errors.Count;
        if (string.IsNullOrWhiteSpace(Workflow))
        {
            errors[prefix + "workflow"] = ["workflow is required."];
        }
        else if (!JobRules.IsName(Workflow))
        {
            errors[prefix + "workflow"] = [JobRules.NameRule("workflow")];
        }

        if (Encoding.UTF8.GetByteCount(PayloadJson()) > JobRules.MaxPayloadBytes)
        {
            errors[prefix + "payload"] = [$"payload is larger than {JobRules.MaxPayloadBytes} bytes."];
        }
        else if (Payload is { } payload && JobRules.DepthOf(payload) > JobRules.MaxPayloadDepth)
        {
            errors[prefix + "payload"] = [JobRules.PayloadDepthRule];
        }

        if (!JobRules.IsName(Queue ?? JobRules.DefaultQueue))
        {
            errors[prefix + "queue"] = [JobRules.NameRule("queue")];
        }

        if (Priority is < -1000 or > 1000)
        {
            errors[prefix + "priority"] = ["priority must be between -1000 and 1000 (higher runs first)."];
        }

        var maxDelay = (long)JobRules.MaxDelay.TotalMilliseconds;
        var runAt = now;
        if (RunAt is not null && DelayMs is not null)
        {
            errors[prefix + "run_at"] = ["give run_at or delay_ms, not both."];
        }
        else if (DelayMs is { } delay)
        {
            if (delay < 0 || delay > maxDelay)
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
            if (runAt > now + maxDelay)
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

        if (TimeoutMs is < 1 or > JobRules.MaxTimeoutMs)
        {
            errors[prefix + "timeout_ms"] = [JobRules.TimeoutRule];
        }

        return errors.Count > before ? null : runAt;
    }

    /// <summary>Adds an error per bad field (keys prefixed, e.g. <c>[3].priority</c>); true when there was none.</summary>
    public bool Validate(DateTimeOffset now, string prefix, IDictionary<string, string[]> errors) =>
        Check(now.ToUnixTimeMilliseconds(), prefix, errors) is not null;

    /// <summary>The payload as stored: its JSON text, <c>null</c> when absent.</summary>
    public string PayloadJson() => Payload is { } p ? p.GetRawText() : "null";
}
