using System.Net;
using System.Net.Http.Json;
using Flotilla.Node.Store;

namespace Flotilla.Node.Cluster;

/// <summary>
/// The one way to change the replicated state from this node: on the leader the commands go
/// into the group commit; on a follower they are forwarded to the leader's HTTP endpoint, with
/// a hop limit so a request cannot bounce between followers during an election.
/// </summary>
internal sealed partial class Proposer(RaftNode node, GroupCommit groupCommit, ClusterHttp http, ILogger<Proposer> logger)
{
    private static readonly TimeSpan LeaderWait = TimeSpan.FromSeconds(5);

    // A follower learns of a commit with the leader's next message: usually within milliseconds.
    private static readonly TimeSpan ReadYourWritesWait = TimeSpan.FromSeconds(2);

    public async Task<CommandResult> ProposeAsync(Command command, CancellationToken token) =>
        (await ProposeAsync([command], 0, token).ConfigureAwait(false)).Results[0];

    /// <summary>
    /// Proposes <paramref name="commands"/> in one entry and returns their results. A write whose
    /// outcome became unknown (leadership moved after the append, an answer was lost) is proposed
    /// again with the same content: every command Flotilla proposes is idempotent (job ids are
    /// chosen before the first try, outcomes are fenced), so the entry that commits first wins and
    /// the other changes nothing. Only a write that stays unknown until the deadline is reported so.
    /// </summary>
    /// <param name="readYourWrites">On a follower, wait until this node has applied the write
    /// (an HTTP client then reads it here); a worker proposing its own outcomes does not need to.</param>
    public async Task<Proposed> ProposeAsync(IReadOnlyList<Command> commands, int hops, CancellationToken token, bool readYourWrites = true)
    {
        var deadline = DateTime.UtcNow + LeaderWait;
        var retryUnknown = hops == 0 && commands.All(c => c is not ClaimJobs);
        string? unknown = null;
        while (true)
        {
            var leader = node.Cluster?.Leader;
            try
            {
                if (leader is { IsRemote: false })
                {
                    return await groupCommit.ProposeAsync(commands, token).ConfigureAwait(false);
                }

                if (leader is not null)
                {
                    if (hops >= ClusterHttp.MaxHops)
                    {
                        throw new NoLeaderException($"The write was forwarded {hops} times without reaching the leader.");
                    }

                    var proposed = await ForwardAsync(leader, commands, hops + 1, token).ConfigureAwait(false);
                    if (readYourWrites)
                    {
                        await node.WaitForAppliedAsync(proposed.Index, ReadYourWritesWait, token).ConfigureAwait(false);
                    }

                    return proposed;
                }
            }
            catch (NoLeaderException ex) when (DateTime.UtcNow < deadline && hops == 0)
            {
                LogRetrying(ex.Message);
            }
            catch (WriteOutcomeUnknownException ex) when (DateTime.UtcNow < deadline && retryUnknown && !token.IsCancellationRequested)
            {
                unknown = ex.Message;
                LogRetryingUnknown(ex.Message);
            }

            if (unknown is not null && DateTime.UtcNow >= deadline)
            {
                // Some try may have been written: "no leader" (retry freely) would be a lie.
                throw new WriteOutcomeUnknownException(unknown);
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new NoLeaderException("No leader is known right now; retry shortly.");
            }

            // Polls every 50 ms (a leader that is known but unreachable may be dead), and goes
            // on at once when the leader changes.
            await node.NextLeaderChangeAsync(TimeSpan.FromMilliseconds(50), token).ConfigureAwait(false);
        }
    }

    private async Task<Proposed> ForwardAsync(
        DotNext.Net.Cluster.Consensus.Raft.RaftClusterMember leader, IReadOnlyList<Command> commands, int hops, CancellationToken token)
    {
        var metadata = await leader.GetMetadataAsync(false, token).ConfigureAwait(false);
        if (!metadata.TryGetValue(MetadataKeys.HttpUrl, out var url))
        {
            throw new NoLeaderException("The leader did not publish its HTTP address.");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(url), "cluster/propose"))
        {
            Content = JsonContent.Create(new ProposeRequest(commands), options: CommandCodec.Options),
        };
        request.Headers.Add(ClusterHttp.HopsHeader, hops.ToString(System.Globalization.CultureInfo.InvariantCulture));

        HttpResponseMessage response;
        try
        {
            response = await http.Client.SendAsync(request, token).ConfigureAwait(false);
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.ConnectionError)
        {
            // Nothing reached the leader, so nothing can have been written: safe to retry.
            throw new NoLeaderException($"The leader at {url} is unreachable: {ex.Message}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !token.IsCancellationRequested)
        {
            // The request left; the leader may have written it. Only the client can retry safely.
            throw new WriteOutcomeUnknownException($"The leader at {url} failed after taking the write ({ex.Message}); it may or may not be applied. Retry with an idempotency_key.");
        }

        using (response)
        {
            switch (response.StatusCode)
            {
                case HttpStatusCode.ServiceUnavailable:
                    throw new NoLeaderException($"The leader at {url} could not take the write: {await response.Content.ReadAsStringAsync(token).ConfigureAwait(false)}");
                case HttpStatusCode.BadRequest:
                    throw new InvalidCommandException(await response.Content.ReadAsStringAsync(token).ConfigureAwait(false));
                case HttpStatusCode.RequestEntityTooLarge:
                    // Refused before anything was written, and the same body would be refused again.
                    throw new InvalidCommandException($"The leader at {url} refused the proposal as too large.");
                case HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout:
                    throw new WriteOutcomeUnknownException($"The leader at {url} could not tell whether the write was applied.");
            }

            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadFromJsonAsync<ProposeResponse>(CommandCodec.Options, token).ConfigureAwait(false);
            return body?.Results is { } results
                ? new Proposed(results, body.Index)
                : throw new InvalidOperationException("The leader answered a proposal without results.");
        }
    }

    [LoggerMessage(EventId = 1402, Level = LogLevel.Information, Message = "Write outcome unknown ({Reason}); proposing the same content again")]
    private partial void LogRetryingUnknown(string reason);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Debug, Message = "Write not placed yet ({Reason}); waiting for a leader")]
    private partial void LogRetrying(string reason);
}

/// <summary>Body of the internal <c>POST /cluster/propose</c>: commands a follower forwards to the leader.</summary>
internal sealed record ProposeRequest(IReadOnlyList<Command> Commands);

internal sealed record ProposeResponse(IReadOnlyList<CommandResult> Results, long Index);

/// <summary>What a proposal produced, and the log index it was applied at.</summary>
internal sealed record Proposed(IReadOnlyList<CommandResult> Results, long Index);
