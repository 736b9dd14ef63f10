using System.Net;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Flotilla.Node.Store;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Cluster;

/// <summary>
/// One cluster member's lifetime: opens the store, restores the state machine, builds the
/// durable log and the TCP Raft member, and joins. Raft starts once Kestrel listens, because
/// joining asks other nodes to call back and a node advertises its real HTTP address.
/// </summary>
internal sealed partial class RaftNode(
    IOptions<ClusterOptions> options,
    JobStore store,
    ClusterJoiner joiner,
    Founding founding,
    Security.ClusterSecret secret,
    IServer server,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggerFactory,
    ILogger<RaftNode> logger) : IHostedService, IAsyncDisposable
{
    private readonly ClusterOptions _options = options.Value;
    private readonly CancellationTokenSource _stopping = new();
    private Task _starting = Task.CompletedTask;
    private Task _backingUp = Task.CompletedTask;
    private DurableWriteAheadLog? _log;
    private RaftPortGuard? _guard;
    private JobStateMachine? _stateMachine;
    private volatile bool _started;
    private long _leaderSince; // Stopwatch timestamp of taking office; 0 while not leading
    private TaskCompletionSource _leaderChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _standingBy; // 1 while this node stands by after rebuilding its membership from its log

    public string NodeId => _options.NodeId;

    public RaftCluster? Cluster { get; private set; }

    /// <summary>The HTTP address this node advertises to its peers.</summary>
    public Uri? HttpUrl { get; private set; }

    /// <summary>Raised after every locally applied batch (the worker's wake-up call).</summary>
    public event Action<long>? Applied;

    /// <summary>
    /// Waits (briefly) until this node has applied <paramref name="index"/>: a write forwarded to
    /// the leader is then readable here too, so a client reads its own writes on any node.
    /// </summary>
    public async Task WaitForAppliedAsync(long index, TimeSpan timeout, CancellationToken token)
    {
        if (store.AppliedIndex >= index)
        {
            return;
        }

        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnApplied(long applied)
        {
            if (applied >= index)
            {
                reached.TrySetResult();
            }
        }

        Applied += OnApplied;
        try
        {
            if (store.AppliedIndex < index)
            {
                await reached.Task.WaitAsync(timeout, token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        finally
        {
            Applied -= OnApplied;
        }
    }

    /// <summary>
    /// This node holds replicated state (log entries or an applied database): it was a member of
    /// a cluster, so it must never found another, and a join that finds its endpoint already a
    /// member is a plain rejoin. A node without data whose endpoint is still a member is a lost
    /// member coming back empty, and must be removed before it joins as a new one.
    /// </summary>
    public bool HasData => store.AppliedIndex > 0 || (_log?.LastEntryIndex ?? 0) > 0;

    /// <summary>Why this node cannot apply committed entries (it retries meanwhile); null when it can.</summary>
    public string? ApplyFault => _stateMachine?.Fault;

    /// <summary>The last snapshot this node wrote, with how long it held up apply; null before the first.</summary>
    public SnapshotTiming? LastSnapshot => _stateMachine?.LastSnapshot;

    /// <summary>Raft started, log and database loaded, and this node is in the membership.</summary>
    public bool IsMember => _started && Cluster is { } c && c.Members.Any(m => !m.IsRemote);

    /// <summary>
    /// How long this node has led without interruption, by its monotonic clock; null when it does
    /// not lead. Lease rescue waits for a full lease of it (see LeaseRescuer).
    /// </summary>
    public TimeSpan? TimeInOffice => Interlocked.Read(ref _leaderSince) is var since and not 0 && Cluster?.Leader is { IsRemote: false }
        ? System.Diagnostics.Stopwatch.GetElapsedTime(since)
        : null;

    /// <summary>
    /// Waits until the leader changes, or at most <paramref name="max"/>: a write waiting for a
    /// leader goes on the moment one is known rather than at its next poll.
    /// </summary>
    public async Task NextLeaderChangeAsync(TimeSpan max, CancellationToken token)
    {
        await Volatile.Read(ref _leaderChanged).Task.WaitAsync(max, token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        token.ThrowIfCancellationRequested();
    }

    /// <summary>Started on an empty or restored membership file: it follows and votes, never stands for election, until a leader reaches it.</summary>
    public bool StandsBy => Volatile.Read(ref _standingBy) == 1;

    /// <summary>Where the node is in starting up ("member" once Raft runs), for /cluster/health.</summary>
    public string State { get; private set; } = "starting";

    /// <summary>
    /// Why <see cref="IsMember"/> is false, for /health. A joining node runs Raft before the
    /// leader's configuration entry that adds it has reached it.
    /// </summary>
    public string NotMemberReason => _started ? "Raft runs, but the leader has not added it to the membership" : State;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() => _starting = Task.Run(() => RunAsync(_stopping.Token)));
        return Task.CompletedTask;
    }

    private async Task RunAsync(CancellationToken token)
    {
        try
        {
            await StartRaftAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            State = "failed: " + ex.Message;
            LogStartFailed(ex);
            lifetime.StopApplication();
        }
    }

    private async Task StartRaftAsync(CancellationToken token)
    {
        var dataDir = Directory.CreateDirectory(Path.GetFullPath(_options.DataDir));
        var scratch = Directory.CreateDirectory(Path.Combine(dataDir.FullName, "tmp"));
        foreach (var stale in scratch.EnumerateFiles())
        {
            stale.Delete();
        }

        HttpUrl = AdvertisedHttpUrl();
        var raftEndPoint = _options.RaftIPEndPoint();

        State = "restoring state";
        _stateMachine = new JobStateMachine(
            new DirectoryInfo(Path.Combine(dataDir.FullName, "snapshots")),
            scratch,
            store,
            new SnapshotPolicy(_options.SnapshotEvery, _options.SnapshotBytes),
            loggerFactory.CreateLogger<JobStateMachine>());
        _stateMachine.Applied += index => Applied?.Invoke(index);
        _stateMachine.FaultChanged += fault =>
        {
            if (fault is not null)
            {
                _ = StepDownAsync(fault);
            }
        };
        await _stateMachine.RestoreAsync(token).ConfigureAwait(false);

        _log = new DurableWriteAheadLog(
            new WriteAheadLog.Options
            {
                Location = _options.LogDirectory(),

                // The default chunk is one 4 KiB page per file: thousands of files and inode
                // allocation on the hot path. Fixed when a log is created (see ClusterOptions).
                ChunkSize = LogChunkSize(_options.LogDirectory()),
            },
            _stateMachine,
            _options.FlushBeforeAck);

        // A membership file lost or emptied comes back from its copy, standing by (see MembershipBackup).
        var membersFile = Path.Combine(dataDir.FullName, "members.bin");
        var backup = new MembershipBackup(membersFile, logger);
        if (backup.TryRestore())
        {
            _standingBy = 1;
        }

        // An empty membership file (a crash while it was written, a bad copy) holds nothing, and
        // DotNext 6.12 fails to start on it: drop it, and the membership comes back from the log.
        if (File.Exists(membersFile) && new FileInfo(membersFile).Length == 0)
        {
            LogEmptyMembership(membersFile);
            _standingBy = 1;
            File.Delete(membersFile);
        }

        var hasData = HasData || Directory.Exists(Path.Combine(dataDir.FullName, "snapshots"))
            && Directory.EnumerateFileSystemEntries(Path.Combine(dataDir.FullName, "snapshots")).Any();
        var found = await founding.ShouldFoundAsync(hasData, token).ConfigureAwait(false);
        if (!secret.IsSet)
        {
            LogNoSecret();
        }

        if (!found && !hasData)
        {
            // An empty node must not open its Raft port while its endpoint is still a member.
            State = "waiting until its endpoint is not a member";
            await joiner.WaitUntilNotAMemberAsync(raftEndPoint, token).ConfigureAwait(false);
        }

        // Bind one address, advertise another (a container's listener and its name): members
        // are known by the advertised endpoint, which is also what the membership stores.
        // DotNext listens on a loopback port behind the guard, which owns the public one.
        var listen = string.IsNullOrWhiteSpace(_options.RaftListen) ? raftEndPoint : ClusterOptions.ParseEndPoint(_options.RaftListen);
        var tls = _options.RaftTls && secret.Value is not null;

        // Taken and released here, bound by DotNext in StartAsync below: nothing waits in
        // between, so another socket has the least time to take the port.
        var backend = RaftPortGuard.FreeLoopbackEndPoint(listen.Port);
        var configuration = new RaftCluster.TcpConfiguration(backend)
        {
            PublicEndPoint = raftEndPoint,
            ColdStart = found,
            ConfigurationStorage = new EndPointConfigurationStorage(membersFile),

            // A membership rebuilt from this node's log alone can be older than the cluster's
            // (the last change may not be in it): leading on it would shut out a member. Such a
            // node stands by (it votes and follows, never asks for votes) until a leader reaches it.
            Standby = _standingBy == 1,
            Announcer = (address, _, ct) => joiner.JoinAsync(this, address, ct),
            LowerElectionTimeout = _options.ElectionTimeoutMs,
            UpperElectionTimeout = _options.ElectionTimeoutUpperMs,

            // A heartbeat every quarter of the lower timeout (DotNext's default is half): a
            // follower then misses three before it gives up on a leader that is alive but late.
            HeartbeatThreshold = 0.25,

            // Also bounds connecting (TLS handshake included) and each request: a follower whose
            // disk is slow, or a handshake on a loaded machine, must not look like a dead member
            // (a leader that loses its majority that way steps down), so never below 2 s.
            RequestTimeout = TimeSpan.FromMilliseconds(Math.Max(_options.ElectionTimeoutMs * 2, 2000)),
            LoggerFactory = loggerFactory,
            SslOptions = tls ? Security.RaftTransportSecurity.Create(secret.Value!) : null,
        };
        configuration.Metadata[MetadataKeys.NodeId] = _options.NodeId;
        configuration.Metadata[MetadataKeys.HttpUrl] = HttpUrl.ToString();

        Cluster = new RaftCluster(configuration) { AuditTrail = _log };
        _guard = new RaftPortGuard(
            listen,
            backend,
            AdmitsPeer,
            () => _options.RaftConnectionCap(Cluster.Members.Count),
            TimeSpan.FromMilliseconds(_options.RaftHandshakeTimeoutMs),
            tls,
            loggerFactory.CreateLogger<RaftPortGuard>());
        _guard.Start();
        Cluster.LeaderChanged += (cluster, leader) =>
        {
            LogLeaderChanged(leader?.EndPoint.ToString() ?? "none", ((RaftCluster)cluster).Term);
            Interlocked.Exchange(ref _leaderChanged, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            if (leader is { IsRemote: true } && Interlocked.Exchange(ref _standingBy, 0) == 1)
            {
                _ = Task.Run(() => LeaveStandbyAsync((RaftCluster)cluster));
            }
            var since = leader is { IsRemote: false } ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            Interlocked.Exchange(ref _leaderSince, since);
            if (since != 0)
            {
                _ = Task.Run(() => TakeOfficeAsync((RaftCluster)cluster, since));
            }

            // Its Raft log is intact, so a node that cannot apply may win the next election too:
            // it steps down again for as long as the fault lasts.
            if (leader is { IsRemote: false } && ApplyFault is { } fault)
            {
                StepDownSoon(fault);
            }
        };

        State = found ? "starting raft" : "joining";
        LogStarting(_options.NodeId, raftEndPoint.ToString(), HttpUrl.ToString(), found);
        await Cluster.StartAsync(token).ConfigureAwait(false);
        _backingUp = Task.Run(() => backup.RunAsync(_stopping.Token), CancellationToken.None);
        _started = true;
        State = "member";
        LogStarted(_options.NodeId, Cluster.Members.Count);
    }

    // Once this node is a member it knows every address a peer may call from; before that (a
    // node joining, or restarting) the leader that adds it is not in its membership yet. A member
    // known only by name is not matched by address: then every address is let through.
    private bool AdmitsPeer(IPAddress address)
    {
        if (!_options.RaftKnownPeersOnly || !IsMember || Cluster is not { } cluster)
        {
            return true;
        }

        foreach (var member in cluster.Members)
        {
            if (member.EndPoint is not IPEndPoint endPoint)
            {
                return true;
            }

            var known = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
            if (known.Equals(address))
            {
                return true;
            }
        }

        return false;
    }

    // The chunk size a log was created with is recorded beside it: a log from before the
    // record existed was made with the library's default and must be reopened with it.
    private int LogChunkSize(string logDir)
    {
        var record = Path.Combine(Path.GetDirectoryName(logDir)!, "log-chunk-size");
        if (File.Exists(record) && int.TryParse(File.ReadAllText(record), System.Globalization.CultureInfo.InvariantCulture, out var recorded) && recorded > 0)
        {
            return recorded;
        }

        var size = Directory.Exists(logDir) && Directory.EnumerateFileSystemEntries(logDir).Any()
            ? new WriteAheadLog.Options { Location = logDir }.ChunkSize
            : _options.LogChunkBytes;
        File.WriteAllText(record, size.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return size;
    }

    // A new leader takes writes once an entry of its own term commits (DotNext's write barrier).
    // DotNext sends its first round at once, but a follower whose log does not end where the
    // leader guessed refuses it, and the corrected round waits for the next heartbeat: replicating
    // again as soon as a round ends commits the barrier a heartbeat sooner. How long it took is
    // logged for every term this node leads: it is the last part of a failover.
    private async Task TakeOfficeAsync(RaftCluster cluster, long since)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var term = cluster.Term;
            var barrier = cluster.WaitForLeadershipAsync(timeout.Token);
            for (var round = 0; round < 50 && !barrier.IsCompleted && cluster.Term == term && Interlocked.Read(ref _leaderSince) == since; round++)
            {
                await cluster.ForceReplicationAsync(timeout.Token).ConfigureAwait(false);
            }

            await barrier.ConfigureAwait(false);
            if (cluster.Term == term && Interlocked.Read(ref _leaderSince) == since)
            {
                LogTermCommitted(term, System.Diagnostics.Stopwatch.GetElapsedTime(since).TotalMilliseconds);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Leadership ended first, or the node stops: nothing to report.
        }
    }

    // A leader reached this node: its membership is the cluster's now, so it may stand for election again.
    private async Task LeaveStandbyAsync(RaftCluster cluster)
    {
        try
        {
            await cluster.RevertToNormalModeAsync(_stopping.Token).ConfigureAwait(false);
            LogLeftStandby();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogStandbyKept(ex.Message);
        }
    }

    // From DotNext's leader-changed callback: resign from the thread pool, not inside its transition.
    private void StepDownSoon(string reason) => _ = Task.Run(() => StepDownAsync(reason));

    // A leader that cannot apply cannot answer its proposers: let a healthy node lead.
    private async Task StepDownAsync(string reason)
    {
        if (Cluster is { Leader.IsRemote: false } cluster)
        {
            LogSteppingDown(reason);
            try
            {
                await ((DotNext.Net.Cluster.ICluster)cluster).ResignAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogStepDownFailed(ex.Message);
            }
        }
    }

    private Uri AdvertisedHttpUrl()
    {
        if (!string.IsNullOrWhiteSpace(_options.HttpUrl))
        {
            return new Uri(_options.HttpUrl);
        }

        var bound = server.Features.Get<IServerAddressesFeature>()?.Addresses
            .Select(a => new Uri(a.Replace("://+", "://0.0.0.0").Replace("://*", "://0.0.0.0")))
            .OrderBy(u => u.Scheme == Uri.UriSchemeHttp ? 0 : 1)
            .FirstOrDefault()
            ?? throw new InvalidOperationException("Kestrel reports no listen address; set --urls or Cluster:HttpUrl.");

        // A wildcard bind is not an address peers can call: use the host the Raft endpoint advertises.
        if (IPAddress.TryParse(bound.Host.Trim('[', ']'), out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)))
        {
            return new UriBuilder(bound) { Host = _options.RaftIPEndPoint().Address.ToString() }.Uri;
        }

        return bound;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _starting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _backingUp.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_guard is { } guard)
        {
            await guard.DisposeAsync().ConfigureAwait(false);
        }

        if (Cluster is { } cluster)
        {
            await cluster.StopAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _started = false;
        if (_guard is { } guard)
        {
            await guard.DisposeAsync().ConfigureAwait(false);
        }

        if (Cluster is { } cluster)
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
        }

        if (_log is { } log)
        {
            await log.DisposeAsync().ConfigureAwait(false);
        }

        if (_stateMachine is { } stateMachine)
        {
            await stateMachine.DisposeAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Flotilla node {NodeId} starting Raft on {RaftEndPoint}, HTTP {HttpUrl}, founding={Founding}")]
    private partial void LogStarting(string nodeId, string raftEndPoint, string httpUrl, bool founding);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "The membership file {File} is empty; removed it, the membership is rebuilt from the log")]
    private partial void LogEmptyMembership(string file);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Critical, Message = "NO CLUSTER SECRET (Cluster:Secret unset, Development only): any caller that reaches this node's HTTP port can add members and propose commands. Set Cluster:Secret on every node and the Api.")]
    private partial void LogNoSecret();

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Flotilla node {NodeId} runs Raft; members known so far: {Members}")]
    private partial void LogStarted(string nodeId, int members);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Critical, Message = "Flotilla node failed to start its cluster member")]
    private partial void LogStartFailed(Exception ex);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Stepping down as leader: {Reason}")]
    private partial void LogSteppingDown(string reason);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Could not step down: {Reason}")]
    private partial void LogStepDownFailed(string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Leader is now {Leader} (term {Term})")]
    private partial void LogLeaderChanged(string leader, long term);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "A leader reached this node; it stands for election again")]
    private partial void LogLeftStandby();

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "Could not leave standby: {Reason}")]
    private partial void LogStandbyKept(string reason);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Information, Message = "Leading term {Term}: its first entry committed {Milliseconds:0} ms after the election; taking writes")]
    private partial void LogTermCommitted(long term, double milliseconds);
}

/// <summary>Keys of the metadata each member publishes to its peers over Raft.</summary>
internal static class MetadataKeys
{
    public const string NodeId = "node_id";
    public const string HttpUrl = "http";
}
