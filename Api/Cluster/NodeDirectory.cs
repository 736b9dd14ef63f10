namespace Flotilla.Api.Cluster;

/// <summary>
/// The nodes the Api fronts (<c>Cluster:Nodes</c>) and the HTTP client it reaches them with.
/// The client has no retry handler on purpose: re-sending a write is a decision, and
/// <see cref="ClusterClient"/> only makes it when the request provably was not taken.
/// </summary>
internal sealed class NodeDirectory : IDisposable
{
    private readonly Uri[] _nodes;
    private int _preferred;

    public NodeDirectory(IConfiguration configuration)
    {
        _nodes = (configuration["Cluster:Nodes"] ?? string.Empty)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(u => new Uri(u.EndsWith('/') ? u : u + "/", UriKind.Absolute))
            .ToArray();
        if (_nodes.Length == 0)
        {
            throw new InvalidOperationException("Cluster:Nodes is empty: give the comma-separated HTTP base URLs of the nodes.");
        }
    }

    public IReadOnlyList<Uri> Nodes => _nodes;

    public HttpClient Client { get; } = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectTimeout = TimeSpan.FromSeconds(2),
    })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

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

    public void Dispose() => Client.Dispose();
}
