using System.Net;
using System.Text.Json;
using Flotilla.Api.Nodes;
using Flotilla.Client;
using Microsoft.Extensions.Options;

namespace Flotilla.Api.Workflows;

/// <summary>
/// The names of the registered workflows (<c>GET /workflows</c> on a node), reused for a few
/// seconds so a burst of submissions costs one lookup. The check is best effort: when no node
/// can list workflows (a node without the route answers 404, or none answers) the answer is
/// "unknown" and the Api lets the node decide rather than refuse every job.
/// </summary>
internal sealed class WorkflowCatalog(NodeClient client, IOptions<ApiOptions> options, TimeProvider time, ILogger<WorkflowCatalog> logger)
{
    // A name missing from a cached list may have been registered just now (through another Api
    // or a node): a list at least this old is fetched again before a job is refused.
    private static readonly TimeSpan RefreshOnMiss = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _refresh = new(1, 1);
    private Snapshot? _snapshot;

    /// <summary>True or false when the registered names are known, null when they cannot be learnt now.</summary>
    public async Task<bool?> IsKnownAsync(string name, CancellationToken token)
    {
        var snapshot = await GetAsync(options.Value.WorkflowCacheTtl, token);
        if (snapshot.Names is { } names && !names.Contains(name) && time.GetUtcNow() - snapshot.At >= RefreshOnMiss)
        {
            snapshot = await GetAsync(RefreshOnMiss, token);
        }

        return snapshot.Names?.Contains(name);
    }

    /// <summary>Drops the cached list (after a registration through this Api).</summary>
    public void Invalidate() => Volatile.Write(ref _snapshot, null);

    private async Task<Snapshot> GetAsync(TimeSpan maxAge, CancellationToken token)
    {
        if (Fresh(maxAge) is { } cached)
        {
            return cached;
        }

        await _refresh.WaitAsync(token);
        try
        {
            // Another request may have refreshed it while this one waited.
            if (Fresh(maxAge) is { } refreshed)
            {
                return refreshed;
            }

            var snapshot = new Snapshot(time.GetUtcNow(), await FetchAsync(token));
            Volatile.Write(ref _snapshot, snapshot);
            return snapshot;
        }
        finally
        {
            _refresh.Release();
        }
    }

    private Snapshot? Fresh(TimeSpan maxAge) =>
        Volatile.Read(ref _snapshot) is { } s && time.GetUtcNow() - s.At < maxAge ? s : null;

    private async Task<HashSet<string>?> FetchAsync(CancellationToken token)
    {
        try
        {
            var answer = await client.ReadAsync("workflows", token);
            if (answer.Status != HttpStatusCode.OK)
            {
                LogMessages.WorkflowListUnavailable(logger, answer.Node, (int)answer.Status);
                return null;
            }

            return answer.Read<WorkflowView[]>().Select(w => w.Name).ToHashSet(StringComparer.Ordinal);
        }
        catch (Exception ex) when (ex is ClusterUnavailableException or JsonException)
        {
            return null;
        }
    }

    private sealed record Snapshot(DateTimeOffset At, HashSet<string>? Names);
}
