using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Cluster;

/// <summary>
/// Whether this node founds a new cluster (Raft cold start). A cluster is founded once:
/// <c>Cluster:Bootstrap</c> asks for it, but a node that has any data (log entries, a snapshot,
/// an applied database) was a member of some cluster and never founds another, and a node that
/// can reach an existing cluster through <c>Cluster:Join</c> joins it instead. Without this, a
/// bootstrap node whose membership file was lost elected itself in a one-node cluster and
/// acknowledged writes its real cluster later truncated.
/// </summary>
internal sealed partial class Founding(IOptions<ClusterOptions> options, ClusterHttp http, ILogger<Founding> logger)
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    public async Task<bool> ShouldFoundAsync(bool hasData, CancellationToken token)
    {
        if (!options.Value.Bootstrap)
        {
            return false;
        }

        if (hasData)
        {
            LogHasData();
            return false;
        }

        foreach (var target in options.Value.JoinUrls())
        {
            if (await IsMemberOfAClusterAsync(target, token).ConfigureAwait(false))
            {
                LogClusterExists(target.ToString());
                return false;
            }
        }

        return true;
    }

    // A node that reports a leader or any member belongs to a cluster that exists already.
    private async Task<bool> IsMemberOfAClusterAsync(Uri target, CancellationToken token)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(ProbeTimeout);
            var health = await http.Client.GetFromJsonAsync<JsonElement>(new Uri(target, "cluster/health"), timeout.Token).ConfigureAwait(false);
            return (health.TryGetProperty("has_leader", out var leader) && leader.ValueKind == JsonValueKind.True)
                || (health.TryGetProperty("node_count", out var count) && count.TryGetInt32(out var n) && n > 0);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or OperationCanceledException && !token.IsCancellationRequested)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Cluster:Bootstrap is set but this node has data: it rejoins its cluster and never founds a new one")]
    private partial void LogHasData();

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Cluster:Bootstrap is set but {Target} already belongs to a cluster: joining it instead of founding a new one")]
    private partial void LogClusterExists(string target);
}
