using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace Flotilla.Node.Cluster;

/// <summary>
/// The public Raft port, in front of DotNext's TCP listener (which listens on a loopback port).
/// DotNext 6.12's server (read from the decompiled library) accepts any number of connections
/// from any address and gives each its RequestTimeout to finish the TLS handshake; issue 7
/// (defect 8) saw 800 slow connections depose a leader. This accepts on the public endpoint and,
/// before any TLS work, drops a connection from an address that is no member's (once this node
/// is a member and <see cref="ClusterOptions.RaftKnownPeersOnly"/>) and one past the cap; it then
/// passes the bytes through unchanged (TLS stays end to end between the members) and closes a
/// connection whose handshake has not finished by the deadline.
/// </summary>
internal sealed partial class RaftPortGuard : IAsyncDisposable
{
    private const int BufferSize = 64 * 1024;
    private static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(10);

    private readonly IPEndPoint _listen;
    private readonly IPEndPoint _backend;
    private readonly Func<IPAddress, bool> _admits;
    private readonly Func<int> _cap;
    private readonly TimeSpan _handshakeTimeout;
    private readonly bool _tls;
    private readonly ILogger<RaftPortGuard> _logger;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private Task _running = Task.CompletedTask;
    private int _open;
    private long _unknown;
    private long _full;
    private long _slow;
    private int _disposed;

    /// <param name="listen">The public endpoint (Cluster:RaftListen or Cluster:RaftEndpoint).</param>
    /// <param name="backend">Where DotNext's listener is bound (loopback).</param>
    /// <param name="admits">Whether a connection from this address may proceed (the membership rule).</param>
    /// <param name="cap">The current connection cap (it follows the membership's size).</param>
    /// <param name="handshakeTimeout">How long a new connection has to finish its handshake.</param>
    /// <param name="tls">Whether the transport speaks TLS (what "handshake finished" means).</param>
    public RaftPortGuard(IPEndPoint listen, IPEndPoint backend, Func<IPAddress, bool> admits, Func<int> cap, TimeSpan handshakeTimeout, bool tls, ILogger<RaftPortGuard> logger)
    {
        _listen = listen;
        _backend = backend;
        _admits = admits;
        _cap = cap;
        _handshakeTimeout = handshakeTimeout;
        _tls = tls;
        _logger = logger;
        _listener = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (listen.AddressFamily == AddressFamily.InterNetworkV6)
        {
            _listener.DualMode = true;
        }
    }

    /// <summary>
    /// A free loopback port for DotNext's listener (taken and released; DotNext binds it next),
    /// never <paramref name="publicPort"/>: the guard binds that one just before DotNext binds
    /// this, so the kernel may still offer it here when it lies in the ephemeral range (as a
    /// test's free port does): then DotNext failed to start with "address already in use".
    /// </summary>
    public static IPEndPoint FreeLoopbackEndPoint(int publicPort) => FreeLoopbackEndPoint(publicPort, ProbeLoopbackPort);

    internal static IPEndPoint FreeLoopbackEndPoint(int publicPort, Func<IPEndPoint> probe)
    {
        while (true)
        {
            var endPoint = probe();
            if (endPoint.Port != publicPort)
            {
                return endPoint;
            }
        }
    }

    private static IPEndPoint ProbeLoopbackPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)probe.LocalEndPoint!;
    }

    public void Start()
    {
        _listener.Bind(_listen);
        _listener.Listen(512);
        _running = Task.WhenAll(AcceptAsync(_stopping.Token), ReportAsync(_stopping.Token));
        LogGuarding(_listen.ToString(), _backend.ToString(), _cap(), (int)_handshakeTimeout.TotalMilliseconds);
    }

    private async Task AcceptAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            Socket peer;
            try
            {
                peer = await _listener.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of file descriptors, a reset before accept: keep serving the port.
                LogAcceptFailed(ex.SocketErrorCode.ToString());
                await Task.Delay(100, token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                continue;
            }

            if (peer.RemoteEndPoint is not IPEndPoint remote || !_admits(remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address))
            {
                Interlocked.Increment(ref _unknown);
                Reset(peer);
                continue;
            }

            if (Interlocked.Increment(ref _open) > _cap())
            {
                Interlocked.Decrement(ref _open);
                Interlocked.Increment(ref _full);
                Reset(peer);
                continue;
            }

            _ = SpliceAsync(peer, token);
        }
    }

    private async Task SpliceAsync(Socket peer, CancellationToken stopping)
    {
        var backend = new Socket(_backend.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(_handshakeTimeout);

        // The deadline (or shutdown) resets both sockets, which ends both pumps.
        var abort = deadline.Token.Register(
            static state =>
            {
                var (p, b) = ((Socket, Socket))state!;
                Reset(p);
                Reset(b);
            },
            (peer, backend));
        Task<bool> up = Task.FromResult(false), down = Task.FromResult(false);
        try
        {
            peer.NoDelay = true;
            await backend.ConnectAsync(_backend, deadline.Token).ConfigureAwait(false);
            up = PumpAsync(peer, backend, new HandshakeWatch(_tls), deadline);
            down = PumpAsync(backend, peer, null, null);

            // The peer finished sending: let DotNext's answer through, then it closes too.
            if (await Task.WhenAny(up, down).ConfigureAwait(false) == up && await up.ConfigureAwait(false))
            {
                backend.Shutdown(SocketShutdown.Send);
                await down.ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            if (deadline.IsCancellationRequested && !stopping.IsCancellationRequested)
            {
                Interlocked.Increment(ref _slow);
            }

            peer.Dispose();
            backend.Dispose();
            await ((Task)Task.WhenAll(up, down)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await abort.DisposeAsync().ConfigureAwait(false);
            deadline.Dispose();
            Interlocked.Decrement(ref _open);
        }
    }

    // Copies until the sender closes (true) or fails (false). The peer's direction watches for the
    // end of the handshake and then lifts the deadline; after that DotNext bounds each request.
    private static async Task<bool> PumpAsync(Socket from, Socket to, HandshakeWatch? watch, CancellationTokenSource? deadline)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        var handshake = watch ?? default;
        var watching = watch is not null;
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false);
                if (read == 0)
                {
                    return true;
                }

                if (watching && handshake.Observe(buffer.AsSpan(0, read)))
                {
                    watching = false;
                    deadline?.CancelAfter(Timeout.InfiniteTimeSpan);
                }

                for (var sent = 0; sent < read;)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // Closes with a reset: no FIN handshake, no TIME_WAIT, nothing more read from the peer.
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        socket.Dispose();
    }

    // One line per period with what was turned away, not one per connection: under attack a
    // line per connection would be the attack's amplifier.
    private async Task ReportAsync(CancellationToken token)
    {
        using var timer = new PeriodicTimer(ReportEvery);
        while (!token.IsCancellationRequested)
        {
            try
            {
                await timer.WaitForNextTickAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var unknown = Interlocked.Exchange(ref _unknown, 0);
            var full = Interlocked.Exchange(ref _full, 0);
            var slow = Interlocked.Exchange(ref _slow, 0);
            if (unknown + full + slow > 0)
            {
                LogTurnedAway(unknown, full, slow, (int)ReportEvery.TotalSeconds, _cap(), (int)_handshakeTimeout.TotalMilliseconds);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 1901, Level = LogLevel.Information, Message = "Raft port {Listen} guarded in front of {Backend}: at most {Cap} connections, {HandshakeMs} ms to finish a handshake")]
    private partial void LogGuarding(string listen, string backend, int cap, int handshakeMs);

    [LoggerMessage(EventId = 1902, Level = LogLevel.Warning, Message = "Raft port turned away {Unknown} connections from addresses of no member, {Full} over the cap and closed {Slow} that did not finish a handshake in the last {Seconds} s (cap {Cap}, handshake {HandshakeMs} ms)")]
    private partial void LogTurnedAway(long unknown, long full, long slow, int seconds, int cap, int handshakeMs);

    [LoggerMessage(EventId = 1903, Level = LogLevel.Warning, Message = "Raft port could not accept a connection: {Error}")]
    private partial void LogAcceptFailed(string error);
}
