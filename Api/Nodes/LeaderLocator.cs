using System.Net.Http.Json;
using System.Text.Json;
using Flotilla.Client;

namespace Flotilla.Api.Nodes;

/// <summary>
/// Knows where to send writes: the leader's HTTP URL as some node reports it in
/// <c>GET /cluster/health</c> (<c>leader_url</c>). Without it (older nodes, or a leader that
/// has not said) writes go to any node, which forwards them to the leader itself.
/// </summary>
internal sealed class LeaderLocator(NodeDirectory nodes, ILogger<LeaderLocator> logger)
{
    private static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ElectionPoll = TimeSpan.FromMilliseconds(50);
    private Uri? _leader;
    private Uri? _unreachable;
    private Task<Uri?>? _round;

    /// <summary>The leader's URL as last learnt, or null.</summary>
    public Uri? Current => Volatile.Read(ref _leader);

    /// <summary>Forgets the leader if it is still <paramref name="which"/> (another request may already have found the next one).</summary>
    public void Forget(Uri which) => Interlocked.CompareExchange(ref _leader, null, which);

    /// <summary>Asks the nodes, in try order, for the leader; returns its URL or null if none reported one.</summary>
    public async Task<Uri?> DiscoverAsync(CancellationToken token)
    {
        foreach (var node in nodes.InTryOrder())
        {
            var health = await HealthOfAsync(node, token);
            if (health is not { HasLeader: true })
            {
                continue;
            }

            if (string.IsNullOrWhiteSpace(health.LeaderUrl) || !Uri.TryCreate(NodeDirectory.AsBase(health.LeaderUrl).ToString(), UriKind.Absolute, out var url))
            {
                LogMessages.NoLeaderUrl(logger);
                return null;
            }

            if (Interlocked.Exchange(ref _leader, url) != url)
            {
                LogMessages.LeaderFound(logger, health.Leader, url, node);
            }

            return url;
        }

        return null;
    }

    /// <summary>
    /// Asks the nodes every 50 ms, for up to <paramref name="wait"/>, until they name a leader
    /// other than <paramref name="gone"/> (whose connection was refused), and returns its URL;
    /// null if none did in time. Waiting callers share one round of questions at a time. A URL
    /// the nodes still name after a whole wait is unreachable from here (a leader_url of another
    /// network view, say): later writes do not wait for it again until the nodes name another.
    /// </summary>
    public async Task<Uri?> WaitForNextAsync(Uri gone, TimeSpan wait, TimeProvider time, CancellationToken token)
    {
        var (found, last) = await PollAsync(gone, wait, time, () => Volatile.Read(ref _unreachable) == gone, token);
        if (found is not null)
        {
            Volatile.Write(ref _unreachable, null);
            return found;
        }

        if (last == gone)
        {
            Volatile.Write(ref _unreachable, gone);
        }

        // Forget compares references: forget the URL as last learnt if it is the gone one.
        if (Current is { } current && current == gone)
        {
            Forget(current);
        }

        return null;
    }

    /// <summary>
    /// Asks the nodes every 50 ms, for up to <paramref name="wait"/>, until they name a leader
    /// other than <paramref name="not"/>, and returns its URL; null if none did in time. A write
    /// refused for want of a leader (an election) waits with this instead of sleeping out its
    /// backoff, so it reaches the new leader as soon as one is named; a leader that itself
    /// refused is not taken again before the backoff ends.
    /// </summary>
    public async Task<Uri?> WaitForLeaderAsync(Uri? not, TimeSpan wait, TimeProvider time, CancellationToken token) =>
        (await PollAsync(not, wait, time, static () => false, token)).Found;

    // Rounds of questions 50 ms apart until the nodes name a leader other than `not` (Found), the
    // wait runs out (Last: what the last round named) or `stop` says so (both null).
    private async Task<(Uri? Found, Uri? Last)> PollAsync(Uri? not, TimeSpan wait, TimeProvider time, Func<bool> stop, CancellationToken token)
    {
        var until = time.GetUtcNow() + wait;
        while (!stop())
        {
            var named = await DiscoverSharedAsync(token);
            if (named is not null && named != not)
            {
                return (named, named);
            }

            var left = until - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                return (null, named);
            }

            await Task.Delay(left < ElectionPoll ? left : ElectionPoll, time, token);
        }

        return (null, null);
    }

    // One round of questions at a time for every waiting write.
    private async Task<Uri?> DiscoverSharedAsync(CancellationToken token)
    {
        var round = Volatile.Read(ref _round);
        if (round is null || round.IsCompleted)
        {
            var next = DiscoverAsync(CancellationToken.None);
            round = Interlocked.CompareExchange(ref _round, next, round) == round ? next : Volatile.Read(ref _round)!;
        }

        return await round.WaitAsync(token);
    }

    /// <summary>The first node's health that reports a leader, or null when none does (the Api's /health).</summary>
    public async Task<(Uri Node, ClusterHealthView Health)?> FirstWithLeaderAsync(CancellationToken token)
    {
        foreach (var node in nodes.InTryOrder())
        {
            if (await HealthOfAsync(node, token) is { HasLeader: true } health)
            {
                return (node, health);
            }
        }

        return null;
    }

    public async Task<ClusterHealthView?> HealthOfAsync(Uri node, CancellationToken token)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(HealthTimeout);
            return await nodes.Client.GetFromJsonAsync<ClusterHealthView>(new Uri(node, "cluster/health"), FlotillaJson.Options, timeout.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or OperationCanceledException && !token.IsCancellationRequested)
        {
            return null;
        }
    }
}
