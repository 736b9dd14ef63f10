using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Cluster;

/// <summary>
/// DotNext's TCP transport has no join protocol, so a new node asks the nodes listed in
/// <c>Cluster:Join</c> (over their HTTP endpoint, which forwards to the leader) to add it.
/// Runs on every start; a node whose stored membership already holds it rejoins silently,
/// because after a full-cluster restart no leader exists to answer until a majority is back.
/// </summary>
internal sealed partial class ClusterJoiner(IOptions<ClusterOptions> options, ClusterHttp http, ILogger<ClusterJoiner> logger)
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    // A member restarted with its log but without its membership file or the file's copy
    // (MembershipBackup) learns the membership only if its leader sends it a snapshot: DotNext
    // 6.12 sends the membership with nothing else. It waits this long for one before giving up.
    private static readonly TimeSpan MembershipWait = TimeSpan.FromSeconds(30);

    // A node standing by on an empty membership file with no copy never regained its membership
    // in the same process however long it waited (636a27a), so it gives up sooner.
    private static readonly TimeSpan StandbyMembershipWait = TimeSpan.FromSeconds(6);

    /// <summary>The Raft announcer: makes sure this node is in the membership before Raft reports started.</summary>
    public async Task JoinAsync(RaftNode node, EndPoint self, CancellationToken token)
    {
        if (IsMember(node))
        {
            LogAlreadyMember(self.ToString()!);
            return;
        }

        var targets = options.Value.JoinUrls();
        if (targets.Count == 0 && node.HasData)
        {
            // Its membership file is gone but its log is not: a live leader still counts it as a
            // member, and tells it so if it sends it a snapshot. Nobody doing so means nobody to rejoin.
            var deadline = DateTime.UtcNow + (node.StandsBy ? StandbyMembershipWait : MembershipWait);
            while (!IsMember(node) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, token).ConfigureAwait(false);
            }

            if (IsMember(node))
            {
                LogAlreadyMember(self.ToString()!);
                return;
            }
        }

        if (targets.Count == 0)
        {
            throw new InvalidOperationException(node.HasData
                ? "This node has data but its stored membership does not list it (members.bin lost?), no leader contacted it, and it never founds a second cluster. "
                    + "Start it once a majority of its cluster runs, or set Cluster:Join to a member's URL; to replace it, remove it (DELETE /cluster/members/{endpoint} on any member) and start it on an empty data folder."
                : "This node is not a member yet and has nobody to ask: set Cluster:Join to a member's URL, or Cluster:Bootstrap=true on the first node of a new cluster.");
        }

        var target = await AskAsync(targets, () => new JoinRequest(self.ToString()!, options.Value.NodeId, node.HasData), token).ConfigureAwait(false);
        LogJoined(target.ToString());
    }

    /// <summary>
    /// For a node that starts with no data, before its Raft listener opens: waits until its
    /// endpoint is not a member of the cluster. If it is, this is a lost member coming back
    /// empty; letting Raft start would let the leader count the empty node's acknowledgements as
    /// the old member's. It waits (and says why) until an operator removes the old member.
    /// </summary>
    public async Task WaitUntilNotAMemberAsync(EndPoint self, CancellationToken token)
    {
        var targets = options.Value.JoinUrls();
        if (targets.Count > 0)
        {
            await AskAsync(targets, () => new JoinRequest(self.ToString()!, options.Value.NodeId, HasData: false, CheckOnly: true), token).ConfigureAwait(false);
        }
    }

    private static bool IsMember(RaftNode node) => node.Cluster is { } cluster && cluster.Members.Any(m => !m.IsRemote);

    // Asks the targets in turn, with backoff, until one says yes; a 401 (wrong secret) is final.
    private async Task<Uri> AskAsync(IReadOnlyList<Uri> targets, Func<JoinRequest> request, CancellationToken token)
    {
        var backoff = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            foreach (var target in targets)
            {
                try
                {
                    using var response = await http.Client.PostAsJsonAsync(
                        new Uri(target, "cluster/members"), request(), ClusterHttp.Json, token).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        return target;
                    }

                    var detail = await response.Content.ReadAsStringAsync(token).ConfigureAwait(false);
                    if (response.StatusCode == HttpStatusCode.Unauthorized)
                    {
                        // Definitive: the cluster does not share this node's secret. Nothing was changed.
                        throw new InvalidOperationException(
                            $"{target} refused this node's cluster secret (401): set the same Cluster:Secret on every node. {detail}");
                    }

                    if (response.StatusCode == HttpStatusCode.Conflict)
                    {
                        LogLostMember(target.ToString(), detail);
                        continue;
                    }

                    LogJoinRefused(target.ToString(), (int)response.StatusCode, detail);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !token.IsCancellationRequested)
                {
                    LogJoinUnreachable(target.ToString(), ex.Message);
                }
            }

            await Task.Delay(backoff, token).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
        }
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Membership of {EndPoint} is stored; rejoining without a membership change")]
    private partial void LogAlreadyMember(string endPoint);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Joined the cluster through {Target}")]
    private partial void LogJoined(string target);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information, Message = "Join through {Target} refused with {Status}: {Detail}; retrying")]
    private partial void LogJoinRefused(string target, int status, string detail);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning, Message = "Join through {Target} refused: {Detail}; retrying until the old member is removed")]
    private partial void LogLostMember(string target, string detail);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Information, Message = "Join target {Target} unreachable ({Reason}); retrying")]
    private partial void LogJoinUnreachable(string target, string reason);
}

/// <summary>
/// Body of <c>POST /cluster/members</c>. <paramref name="HasData"/> false says the joiner is
/// empty: if its endpoint is still a member, it is a lost member coming back without its log,
/// and it may join only as a new member once the old one is removed. Null (an older node) is
/// taken as true.
/// </summary>
/// <paramref name="CheckOnly"/> asks only whether the endpoint is free to join, changing nothing.
internal sealed record JoinRequest(string Endpoint, string? NodeId, bool? HasData = null, bool CheckOnly = false);
