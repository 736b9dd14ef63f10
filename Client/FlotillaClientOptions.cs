using System.Text.Json;

namespace Flotilla.Client;

/// <summary>Settings of <see cref="FlotillaClient"/> (section <c>Flotilla:Client</c> when bound from configuration).</summary>
public sealed class FlotillaClientOptions
{
    /// <summary>
    /// The Api's base address. Under Aspire use the resource name with service discovery:
    /// <c>https+http://api</c>. Used by <c>AddFlotillaClient</c>; a client built on an
    /// <see cref="HttpClient"/> uses that client's <see cref="HttpClient.BaseAddress"/>.
    /// </summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>Sent as <c>X-Api-Key</c> when set (an Api with <c>Api:Keys</c> requires one).</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// How long one <c>GET /jobs/{id}?wait_ms=</c> of <see cref="FlotillaClient.WaitAsync"/> asks the
    /// server to hold (at most 60 s). Keep it below the per-attempt timeout of the HTTP pipeline:
    /// Aspire's standard resilience handler cuts attempts at 10 s, hence the 8 s default.
    /// </summary>
    public TimeSpan LongPollWait { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>How payloads given as .NET objects become JSON; the wire's snake_case by default.</summary>
    public JsonSerializerOptions PayloadJson { get; set; } = FlotillaJson.Options;

    /// <summary>How often a submission with an idempotency key is re-sent after an unknown outcome (502, 504, lost answer).</summary>
    public int IdempotentRetries { get; set; } = 2;
}
