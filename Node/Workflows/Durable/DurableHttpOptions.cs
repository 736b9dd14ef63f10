namespace Flotilla.Node.Workflows.Durable;

/// <summary>The <c>Durable:*</c> settings of the <c>http</c> side effect of durable workflows.</summary>
internal sealed class DurableHttpOptions
{
    public const string Section = "Durable";

    /// <summary>
    /// Comma-separated <c>host</c> (any port) or <c>host:port</c> entries that guests may call;
    /// empty denies every call (-4).
    /// </summary>
    public string? HttpAllow { get; set; }

    /// <summary>How long one outbound call may take before it counts as failed (-3); the run's own deadline still applies.</summary>
    public int HttpTimeoutMs { get; set; } = 30_000;
}
