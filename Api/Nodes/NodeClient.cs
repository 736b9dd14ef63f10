using System.Net;

namespace Flotilla.Api.Nodes;

/// <summary>
/// Sends the Api's requests to the nodes.
/// <para>
/// Writes go to the leader (<see cref="LeaderLocator"/>), else through any node. A write is sent
/// again only when it provably wrote nothing: the connection was refused (the request never
/// left), or a node answered 503 (a node answers 503 only when it could not place the write).
/// Then the Api re-discovers the leader and retries with a doubling backoff, within
/// <see cref="ApiOptions.WriteRetryBudget"/>; a backoff ends early once the nodes name a leader
/// other than one that refused (<see cref="LeaderLocator.WaitForLeaderAsync"/>). A timeout or a
/// connection lost after sending is ambiguous (the job may be stored) and is never retried: the
/// client gets a 504/502 and can retry with an <c>idempotency_key</c>. The Api does not invent
/// keys, because a key is stored with the job and would change what the client asked for.
/// </para>
/// <para>Reads are safe to repeat: any node will do, the next one is tried on any failure or 503.</para>
/// </summary>
internal sealed class NodeClient(NodeDirectory nodes, LeaderLocator leader, Microsoft.Extensions.Options.IOptions<ApiOptions> options, TimeProvider time, ILogger<NodeClient> logger)
{
    private readonly ApiOptions _options = options.Value;

    /// <summary>A write (POST/PUT) with an optional body, placed through the leader.</summary>
    public async Task<NodeAnswer> WriteAsync(HttpMethod method, string path, byte[]? body, string? contentType, CancellationToken token)
    {
        var deadline = time.GetUtcNow() + _options.WriteRetryBudget;
        var backoff = _options.InitialBackoff;
        NodeAnswer? unavailable = null;
        Uri? refusedBy = null;
        Uri? gone = null;
        var waitForNext = false;
        while (true)
        {
            var known = leader.Current ?? await leader.DiscoverAsync(token);
            if (waitForNext)
            {
                // The leader refused the connection (it died, or lost its node): wait, once per
                // write, for the nodes to name the next one rather than go through a follower.
                waitForNext = false;
                var left = deadline - time.GetUtcNow();
                known = await leader.WaitForNextAsync(gone!, left < _options.LeaderElectionWait ? left : _options.LeaderElectionWait, time, token);
            }

            foreach (var node in Candidates(known))
            {
                NodeAnswer answer;
                try
                {
                    answer = await SendAsync(node, method, path, body, contentType, TimeSpan.Zero, token);
                }
                catch (HttpRequestException ex) when (NeverSent(ex))
                {
                    LogMessages.NodeRefused(logger, method.Method, path, node);
                    if (node == known)
                    {
                        leader.Forget(node);
                        if (gone is null && _options.LeaderElectionWait > TimeSpan.Zero)
                        {
                            gone = node;
                            waitForNext = true;
                            break;
                        }
                    }

                    continue;
                }
                catch (HttpRequestException ex)
                {
                    LogMessages.WriteAmbiguous(logger, ex, method.Method, path, node);
                    throw new ClusterUnavailableException(502, "The node failed while taking the request.",
                        $"{node} failed after the request was sent ({ex.Message}); it may or may not have been applied. Retry with an idempotency_key to be safe.");
                }
                catch (OperationCanceledException ex) when (!token.IsCancellationRequested)
                {
                    LogMessages.WriteAmbiguous(logger, ex, method.Method, path, node);
                    throw new ClusterUnavailableException(504, "The node did not answer in time.",
                        $"{node} did not answer in time; the request may or may not have been applied. Retry with an idempotency_key to be safe.");
                }

                if (answer.Status != HttpStatusCode.ServiceUnavailable)
                {
                    nodes.Answered(node);
                    return answer;
                }

                // The node could not place the write (election, no majority): nothing was written.
                unavailable = answer;
                refusedBy = null;
                if (node == known)
                {
                    leader.Forget(node);
                    refusedBy = node;
                }

                LogMessages.NodeUnavailable(logger, method.Method, path, node, backoff);
                break;
            }

            if (waitForNext)
            {
                continue; // nothing was sent: no backoff before the wait for the next leader
            }

            if (time.GetUtcNow() + backoff >= deadline)
            {
                return unavailable ?? throw new ClusterUnavailableException(503, "Cluster unavailable.", "No node of the cluster is reachable.");
            }

            // Go again once the nodes name a leader (not the one that just refused), at the
            // latest after the backoff: an election ends in well under a backoff's doubling.
            await leader.WaitForLeaderAsync(refusedBy, backoff, time, token);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.MaxBackoff.Ticks));
        }
    }

    /// <summary>
    /// A read from the leader when it is known (it has applied every write it acknowledged, so
    /// a client reads its own writes), else from any node that answers.
    /// </summary>
    public Task<NodeAnswer> ReadAsync(string pathAndQuery, CancellationToken token) => ReadAsync(pathAndQuery, TimeSpan.Zero, token);

    /// <summary>A read the node may hold for up to <paramref name="serverWait"/> (<c>wait_ms</c>) before it answers.</summary>
    public async Task<NodeAnswer> ReadAsync(string pathAndQuery, TimeSpan serverWait, CancellationToken token)
    {
        NodeAnswer? unavailable = null;
        foreach (var node in Candidates(leader.Current))
        {
            try
            {
                var answer = await SendAsync(node, HttpMethod.Get, pathAndQuery, null, null, serverWait, token);
                if (answer.Status != HttpStatusCode.ServiceUnavailable)
                {
                    nodes.Answered(node);
                    return answer;
                }

                unavailable = answer;
                LogMessages.ReadFailed(logger, pathAndQuery, node, "503");
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !token.IsCancellationRequested)
            {
                LogMessages.ReadFailed(logger, pathAndQuery, node, ex.Message);
            }
        }

        return unavailable ?? throw new ClusterUnavailableException(503, "Cluster unavailable.", "No node of the cluster is reachable.");
    }

    // The leader first, then every configured node (which forward to the leader): a leader_url
    // the Api cannot reach (another network view) must not block writes that a node can place.
    private IEnumerable<Uri> Candidates(Uri? known) =>
        known is null ? nodes.InTryOrder() : nodes.InTryOrder().Where(n => n != known).Prepend(known);

    private async Task<NodeAnswer> SendAsync(
        Uri node, HttpMethod method, string path, byte[]? body, string? contentType, TimeSpan serverWait, CancellationToken token)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(NodeDirectory.RequestTimeout + serverWait);
        using var request = new HttpRequestMessage(method, new Uri(node, path));
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }

        using var response = await nodes.Client.SendAsync(request, timeout.Token);
        var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token);
        return new NodeAnswer(
            node,
            response.StatusCode,
            bytes,
            response.Headers.Location?.ToString(),
            response.Headers.RetryAfter?.ToString());
    }

    // Connection refused, unknown host, connect timeout: no byte of the request reached a node.
    private static bool NeverSent(HttpRequestException ex) =>
        ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError;
}
