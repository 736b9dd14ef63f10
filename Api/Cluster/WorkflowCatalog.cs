using System.Net.Http.Json;
using System.Text.Json;

namespace Flotilla.Api.Cluster;

/// <summary>
/// The registered workflow names, read from a node and kept for a few seconds, so a job for a
/// workflow nobody registered is refused up front instead of failing later on a worker.
/// </summary>
internal sealed class WorkflowCatalog(ClusterClient cluster, TimeProvider time)
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(5);
    private (IReadOnlySet<string> Names, DateTimeOffset At)? _cached;

    /// <summary>The unknown names among <paramref name="names"/> (empty if the catalog cannot be read).</summary>
    public async Task<IReadOnlyList<string>> UnknownAsync(IEnumerable<string> names, CancellationToken token)
    {
        var wanted = names.Distinct().ToArray();
        var known = await NamesAsync(refresh: false, token);
        if (known is not null && wanted.Any(n => !known.Contains(n)))
        {
            // Perhaps registered a moment ago: look once more before refusing.
            known = await NamesAsync(refresh: true, token);
        }

        return known is null ? [] : wanted.Where(n => !known.Contains(n)).ToArray();
    }

    public void Invalidate() => _cached = null;

    private async Task<IReadOnlySet<string>?> NamesAsync(bool refresh, CancellationToken token)
    {
        if (!refresh && _cached is { } cached && time.GetUtcNow() - cached.At < Fresh)
        {
            return cached.Names;
        }

        try
        {
            using var response = await cluster.ReadAsync(node => new HttpRequestMessage(HttpMethod.Get, new Uri(node, "workflows")), token);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            var list = await response.Content.ReadFromJsonAsync<JsonElement>(token);
            var names = list.EnumerateArray().Select(w => w.GetProperty("name").GetString()!).ToHashSet(StringComparer.Ordinal);
            _cached = (names, time.GetUtcNow());
            return names;
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or InvalidOperationException)
        {
            // The nodes validate on their own; an unreadable catalog only loses the early check.
            return null;
        }
    }
}
