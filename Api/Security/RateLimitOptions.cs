namespace Flotilla.Api.Security;

/// <summary>
/// <c>Api:RateLimit</c>: a token bucket per API key (one shared bucket when the Api is open) on
/// the write routes. Each request takes one token, a batch too; reads are not limited.
/// </summary>
internal sealed class RateLimitOptions
{
    public const string Section = "Api:RateLimit";

    /// <summary>Tokens added per second (the sustained write rate of one key); 0 turns the limit off.</summary>
    public int PermitsPerSecond { get; set; } = 5_000;

    /// <summary>How many tokens the bucket holds (the burst a key may send at once); at least <see cref="PermitsPerSecond"/>.</summary>
    public int Burst { get; set; } = 10_000;
}
