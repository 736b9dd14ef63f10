using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Client;

/// <summary>
/// A durable job's journal (<c>GET /jobs/{id}/journal</c>): what its runs asked the host, in
/// order. Responses are not shown: they may be large or secret.
/// </summary>
/// <param name="JobId">The job.</param>
/// <param name="Entries">Its journaled host calls by <c>seq</c>; empty for a job that is not durable or has made none.</param>
public sealed record JournalView(string JobId, IReadOnlyList<JournalEntryView> Entries)
{
    /// <summary>Fields a newer server sends that this version does not know.</summary>
    [JsonExtensionData]
    public IDictionary<string, JsonElement>? Extra { get; init; }
}

/// <summary>One journaled host call.</summary>
/// <param name="Seq">Its place in the journal, from 1; an http call's <c>Idempotency-Key</c> is <c>&lt;job_id&gt;:&lt;seq&gt;</c>.</param>
/// <param name="Kind"><c>now_ms</c>, <c>random_bytes</c>, <c>sleep_ms</c>, <c>clock_time_get</c>, <c>random_get</c>, <c>http</c>.</param>
/// <param name="Request">A short summary, e.g. <c>random_bytes 16</c> or <c>http POST https://a/x</c>.</param>
/// <param name="State">
/// <c>done</c>; for an http call also <c>intent</c> (sent, outcome not known yet), <c>interrupted</c>
/// (its attempt died mid-call and the replay answered -3, or no answer came), <c>denied</c> (host not
/// in <c>Durable:HttpAllow</c>), <c>too_large</c> (response over 1 MiB).
/// </param>
/// <param name="At">When the call was first made (the running node's clock).</param>
/// <param name="Attempt">The attempt that recorded it (for an http call: the one that learnt its result).</param>
public sealed record JournalEntryView(int Seq, string Kind, string Request, string State, DateTimeOffset At, int Attempt)
{
    /// <summary>Fields a newer server sends that this version does not know.</summary>
    [JsonExtensionData]
    public IDictionary<string, JsonElement>? Extra { get; init; }
}
