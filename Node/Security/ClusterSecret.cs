using System.Security.Cryptography;
using System.Text;
using Flotilla.Node.Cluster;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Security;

/// <summary>
/// The shared cluster secret (<c>Cluster:Secret</c>): what a caller of a node-to-node route
/// (<c>/cluster/*</c> but <c>/cluster/health</c>) must present in <see cref="Header"/>.
/// Compared in constant time: both sides are hashed first, so neither the content nor the
/// length of the secret leaks through timing.
/// </summary>
internal sealed class ClusterSecret
{
    public const string Header = "X-Flotilla-Cluster-Secret";

    private readonly byte[]? _hash;

    public ClusterSecret(IOptions<ClusterOptions> options)
        : this(options.Value.Secret)
    {
    }

    public ClusterSecret(string? secret)
    {
        Value = string.IsNullOrEmpty(secret) ? null : secret;
        _hash = Value is null ? null : Hash(Value);
    }

    /// <summary>The secret to send to peers, or null when none is configured (development only).</summary>
    public string? Value { get; }

    public bool IsSet => Value is not null;

    /// <summary>True when no secret is configured, or <paramref name="presented"/> is the secret.</summary>
    public bool Accepts(string? presented) =>
        _hash is null || (presented is not null && CryptographicOperations.FixedTimeEquals(Hash(presented), _hash));

    private static byte[] Hash(string value) => SHA256.HashData(Encoding.UTF8.GetBytes(value));
}
