namespace Flotilla.Node.Workflows.Durable;

/// <summary>
/// <c>Durable:HttpAllow</c> parsed: the hosts (any port) and host:port pairs a durable guest may
/// call. Names compare case-insensitively; nothing else (no wildcards, no redirects followed).
/// </summary>
internal sealed class HttpAllowList
{
    private readonly HashSet<string> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _hostPorts = new(StringComparer.OrdinalIgnoreCase);

    public HttpAllowList(string? allow)
    {
        foreach (var item in (allow ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // "host:port" when the part after the last colon is a port and the host is not a bare
            // IPv6 address (those need brackets: "[::1]:8080").
            var colon = item.LastIndexOf(':');
            if (colon > 0 && int.TryParse(item.AsSpan(colon + 1), out var port) && port is > 0 and <= 65535
                && (item.StartsWith('[') || item.IndexOf(':') == colon))
            {
                _hostPorts.Add($"{item[..colon]}:{port}");
            }
            else
            {
                _hosts.Add(item);
            }
        }
    }

    public bool IsEmpty => _hosts.Count == 0 && _hostPorts.Count == 0;

    public bool Allows(Uri url) =>
        _hosts.Contains(url.Host) || _hostPorts.Contains($"{url.Host}:{url.Port}") || _hosts.Contains(url.IdnHost) || _hostPorts.Contains($"{url.IdnHost}:{url.Port}");
}
