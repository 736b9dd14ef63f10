namespace Flotilla.Api.Nodes;

/// <summary>
/// The nodes the Api fronts (<c>Cluster:Nodes</c>) and the HTTP client it reaches them with; the
/// client sends the cluster secret (<c>Cluster:Secret</c>) with every request.
/// The client has no retry handler on purpose: re-sending a write is a decision, and
/// <see cref="NodeClient"/> only makes it when the request provably wrote nothing.
/// </summary>
internal sealed class NodeDirectory : IDisposable
{
    private readonly Uri[] _nodes;
    private int _preferred;

    /// <summary>The header that carries the cluster secret to the nodes (their <c>/cluster/*</c> routes need it).</summary>
    public const string SecretHeader = "X-Flotilla-Cluster-Secret";

    public NodeDirectory(IConfiguration configuration)
        : this(ParseNodes(configuration["Cluster:Nodes"]), new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(2),
        }, configuration["Cluster:Secret"])
    {
    }

    /// <summary>For tests: fixed nodes and a fake handler.</summary>
    public NodeDirectory(IReadOnlyList<Uri> nodes, HttpMessageHandler handler, string? clusterSecret = null)
    {
        _nodes = [.. nodes];
        if (_nodes.Length == 0)
        {
            throw new InvalidOperationException("Cluster:Nodes is empty: give the comma-separated HTTP base URLs of the nodes.");
        }

        // Timeouts are per request (NodeClient): a long-polling read may take longer than the rest.
        Client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(clusterSecret))
        {
            Client.DefaultRequestHeaders.Add(SecretHeader, clusterSecret);
        }
    }

    /// <summary>How long one request to a node may take, plus whatever it was asked to wait (<c>wait_ms</c>).</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    public IReadOnlyList<Uri> Nodes => _nodes;

    public HttpClient Client { get; }

    /// <summary>The nodes in the order to try them: the last one that answered first.</summary>
    public IEnumerable<Uri> InTryOrder()
    {
        var start = Volatile.Read(ref _preferred);
        return Enumerable.Range(0, _nodes.Length).Select(i => _nodes[(start + i) % _nodes.Length]);
    }

    public void Answered(Uri node)
    {
        var index = Array.IndexOf(_nodes, node);
        if (index >= 0)
        {
            Volatile.Write(ref _preferred, index);
        }
    }

    public static Uri[] ParseNodes(string? list) => (list ?? string.Empty)
        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(AsBase)
        .ToArray();

    /// <summary>A base URL with a trailing slash, so relative routes append instead of replacing the last segment.</summary>
    public static Uri AsBase(string url) => new(url.EndsWith('/') ? url : url + "/", UriKind.Absolute);

    public void Dispose() => Client.Dispose();
}
