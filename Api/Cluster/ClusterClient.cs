using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;

namespace Flotilla.Api.Cluster;

/// <summary>
/// Sends writes to the Raft leader and reads to any node. The leader is learnt from the
/// nodes' <c>/cluster/health</c> and re-learnt when it stops answering. A write is re-sent
/// only when it provably was not taken: the connection was refused, or the node answered 503
/// (no leader: nothing written). A timeout after sending is passed on, not retried.
/// </summary>
internal sealed partial class ClusterClient(NodeDirectory nodes, ILogger<ClusterClient> logger)
{
    private static readonly TimeSpan WriteBudget = TimeSpan.FromSeconds(10);
    private Uri? _leader;

    public async Task<HttpResponseMessage> WriteAsync(Func<Uri, HttpRequestMessage> request, CancellationToken token)
    {
        var deadline = DateTime.UtcNow + WriteBudget;
        var backoff = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            // Any node would forward to the leader; going straight there saves a hop.
            var target = _leader ?? await DiscoverLeaderAsync(token) ?? nodes.InTryOrder().First();
            var last = DateTime.UtcNow + backoff >= deadline;
            try
            {
                using var message = request(target);
                var response = await nodes.Client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, token);
                if (response.StatusCode != HttpStatusCode.ServiceUnavailable || last)
                {
                    return response;
                }

                response.Dispose();
                LogRetry(target.ToString(), "503");
            }
            catch (HttpRequestException ex) when (ex.InnerException is SocketException && !last)
            {
                LogRetry(target.ToString(), ex.Message);
            }

            _leader = null;
            await Task.Delay(backoff, token);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
        }
    }

    /// <summary>
    /// Reads go to the leader when it is known (it has applied every write it acknowledged, so
    /// a client reads its own writes), else to any node that answers.
    /// </summary>
    public async Task<HttpResponseMessage> ReadAsync(Func<Uri, HttpRequestMessage> request, CancellationToken token)
    {
        HttpRequestException? unreachable = null;
        var leader = _leader;
        foreach (var node in leader is null ? nodes.InTryOrder() : nodes.InTryOrder().Prepend(leader))
        {
            try
            {
                using var message = request(node);
                var response = await nodes.Client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, token);
                nodes.Answered(node);
                return response;
            }
            catch (HttpRequestException ex) when (ex.InnerException is SocketException)
            {
                unreachable = ex;
                if (node == leader)
                {
                    _leader = null;
                }
            }
        }

        throw new HttpRequestException("No node of the cluster is reachable.", unreachable);
    }

    private async Task<Uri?> DiscoverLeaderAsync(CancellationToken token)
    {
        foreach (var node in nodes.InTryOrder())
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                var health = await nodes.Client.GetFromJsonAsync<JsonElement>(new Uri(node, "cluster/health"), timeout.Token);
                if (health.TryGetProperty("leader_url", out var url) && url.ValueKind == JsonValueKind.String
                    && Uri.TryCreate(url.GetString(), UriKind.Absolute, out var leader))
                {
                    return _leader = leader;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException && !token.IsCancellationRequested)
            {
            }
        }

        return null;
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Write to {Node} not taken ({Reason}); finding the leader again")]
    private partial void LogRetry(string node, string reason);
}
