using System.Net;

namespace Flotilla.Node.Cluster;

/// <summary>
/// The <c>Cluster:*</c> configuration keys: the contract the AppHost, the README and by-hand
/// clusters rely on (see README "Configuration").
/// </summary>
internal sealed class ClusterOptions
{
    public const string Section = "Cluster";

    /// <summary>This node's name; shows up as claimed_by / completed_by.</summary>
    public string NodeId { get; set; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>host:port the Raft TCP listener binds and advertises.</summary>
    public string RaftEndpoint { get; set; } = "127.0.0.1:7101";

    /// <summary>
    /// Where the Raft listener binds when that is not the address peers reach it by (in a
    /// container: <c>0.0.0.0:7101</c>, while <see cref="RaftEndpoint"/> names the container's
    /// address). Unset: it binds <see cref="RaftEndpoint"/>.
    /// </summary>
    public string? RaftListen { get; set; }

    /// <summary>True only on the first node of a brand-new cluster.</summary>
    public bool Bootstrap { get; set; }

    /// <summary>Comma-separated HTTP base URLs of nodes to ask for membership.</summary>
    public string? Join { get; set; }

    /// <summary>Folder for the log, snapshots and the SQLite database.</summary>
    public string DataDir { get; set; } = Path.Combine(".data", "node");

    /// <summary>HTTP base URL other nodes use to reach this one; defaults to the first bound address.</summary>
    public string? HttpUrl { get; set; }

    /// <summary>A snapshot is taken (and the log compacted) after at most this many applied entries.</summary>
    public int SnapshotEvery { get; set; } = 100_000;

    /// <summary>
    /// ... or once the entries applied since the last snapshot hold this many bytes, or half the
    /// last snapshot's size, whichever is more: each snapshot copies the whole database, so a
    /// larger store copies less often (see SnapshotPolicy).
    /// </summary>
    public long SnapshotBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Size of one write-ahead-log chunk file for a new log (default 16 MiB). DotNext fixes it
    /// when the log is created, so a log made with another size keeps its own (see RaftNode).
    /// </summary>
    public int LogChunkBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>A page: DotNext rounds a chunk up to whole pages.</summary>
    public const int MinLogChunkBytes = 4096;

    /// <summary>A chunk is mapped whole; past 1 GiB it is address space and page tables for nothing.</summary>
    public const int MaxLogChunkBytes = 1024 * 1024 * 1024;

    /// <summary>
    /// Lower bound of this node's election timeout: how long a follower goes without hearing from
    /// the leader before it asks the others whether they lost it too (pre-vote), then for votes.
    /// </summary>
    public int ElectionTimeoutMs { get; set; } = 500;

    /// <summary>
    /// Upper bound of this node's election timeout; unset, twice <see cref="ElectionTimeoutMs"/>.
    /// With pre-vote, a survivor that times out first is refused until the other survivor times
    /// out too, so an election starts at the later of the two timeouts, and two survivors that time
    /// out within a message's delay of each other split the vote and start over. Members given
    /// ranges that do not overlap (the AppHost: node1 250–300, node2 320–370, node3 390–440 ms)
    /// never split a vote, and a failover waits at most the highest range. A leader's heartbeats
    /// no longer wait for its own disk (see DurableWriteAheadLog), so a range may be shorter than
    /// a slow flush; it must stay longer than a stall of the leader's process.
    /// </summary>
    public int? ElectionTimeoutMaxMs { get; set; }

    /// <summary>The upper bound in effect.</summary>
    public int ElectionTimeoutUpperMs => ElectionTimeoutMaxMs ?? 2 * ElectionTimeoutMs;

    /// <summary>
    /// Followers persist appended entries before they acknowledge them. Never turn this off in
    /// a real cluster: it exists so the durability test can show the loss it prevents.
    /// </summary>
    public bool FlushBeforeAck { get; set; } = true;

    /// <summary>
    /// The shared cluster secret: node-to-node routes refuse callers without it. Required
    /// outside Development; without it (Development only) every caller is trusted.
    /// </summary>
    public string? Secret { get; set; }

    /// <summary>
    /// With a secret set, the Raft TCP transport runs over mutual TLS that only holders of the
    /// secret can complete (<see cref="Security.RaftTransportSecurity"/>). Every member must agree.
    /// </summary>
    public bool RaftTls { get; set; } = true;

    /// <summary>
    /// Most connections the Raft port holds at once; past it a new one is closed as it is
    /// accepted. 0 (the default): four per member, at least 16. Each member needs one or two.
    /// </summary>
    public int RaftMaxConnections { get; set; }

    /// <summary>
    /// How long a new Raft connection may take to finish its TLS handshake (without TLS: to send
    /// its first byte) before it is closed. A peer on a healthy network needs milliseconds.
    /// </summary>
    public int RaftHandshakeTimeoutMs { get; set; } = 1000;

    /// <summary>
    /// Once this node is a member, the Raft port accepts connections only from the addresses of
    /// members, and drops the rest before any TLS work. Turn it off where peers reach each other
    /// through an address translation (their source address is not the one they advertise).
    /// </summary>
    public bool RaftKnownPeersOnly { get; set; } = true;

    /// <summary>The connection cap for a membership of <paramref name="members"/>.</summary>
    public int RaftConnectionCap(int members) => RaftMaxConnections > 0 ? RaftMaxConnections : Math.Max(16, 4 * members);

    public IReadOnlyList<Uri> JoinUrls() =>
        (Join ?? string.Empty)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(u => new Uri(u.EndsWith('/') ? u : u + "/", UriKind.Absolute))
            .ToArray();

    public IPEndPoint RaftIPEndPoint() => ParseEndPoint(RaftEndpoint);

    /// <summary>The Raft log's folder (DotNext's write-ahead log), absolute.</summary>
    public string LogDirectory() => Path.Combine(Path.GetFullPath(DataDir), "log");

    public static IPEndPoint ParseEndPoint(string hostAndPort)
    {
        if (IPEndPoint.TryParse(hostAndPort, out var ip) && ip.Port != 0)
        {
            return ip;
        }

        var colon = hostAndPort.LastIndexOf(':');
        if (colon > 0 && int.TryParse(hostAndPort[(colon + 1)..], out var port))
        {
            var host = hostAndPort[..colon];
            var address = host is "localhost"
                ? IPAddress.Loopback
                : Dns.GetHostAddresses(host).First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
            return new IPEndPoint(address, port);
        }

        throw new FormatException($"Cluster:RaftEndpoint '{hostAndPort}' is not host:port.");
    }
}
