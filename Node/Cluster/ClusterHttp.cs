using System.Text.Json;
using System.Text.Json.Serialization;
using Flotilla.Node.Security;

namespace Flotilla.Node.Cluster;

/// <summary>
/// The HTTP client nodes use to talk to each other (joins, forwarded proposals). Deliberately
/// not the factory's default client: the standard resilience handler would retry a forwarded
/// proposal on its own, and a blind retry of a write is the caller's decision, not the pipe's.
/// Every request carries the cluster secret (<see cref="ClusterSecret.Header"/>).
/// </summary>
internal sealed class ClusterHttp : IDisposable
{
    public ClusterHttp(ClusterSecret secret)
    {
        if (secret.Value is { } value)
        {
            Client.DefaultRequestHeaders.Add(ClusterSecret.Header, value);
        }
    }

    public const string HopsHeader = "X-Flotilla-Hops";

    /// <summary>A forwarded write may bounce at most this often (followers during an election).</summary>
    public const int MaxHops = 3;

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public HttpClient Client { get; } = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectTimeout = TimeSpan.FromSeconds(2),
    })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    public void Dispose() => Client.Dispose();
}
