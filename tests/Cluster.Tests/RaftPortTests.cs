using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// Issue 7, defect 8: the Raft port is reachable by anyone who can reach a node. 800 connections
/// each sending a byte every 2 s deposed the leader and stopped writes for 6.6 s. The port is now
/// bounded (Node/Cluster/RaftPortGuard.cs): a cap on concurrent connections, a deadline for the
/// TLS handshake, and connections from addresses that are not members dropped before it.
/// </summary>
public sealed class RaftPortTests(RaftPortTests.GuardedCluster guarded, Xunit.Abstractions.ITestOutputHelper output)
    : IClassFixture<RaftPortTests.GuardedCluster>
{
    private const int Cap = 16;
    private const int HandshakeMs = 1000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly int SlowConnections = int.TryParse(Environment.GetEnvironmentVariable("FLOTILLA_RAFT_PORT_CONNECTIONS"), out var n) ? n : 800;

    private readonly TestCluster _cluster = guarded.Cluster;

    [Fact]
    public async Task HostileConnectionsToTheLeadersRaftPortNeitherDeposeItNorStopWrites()
    {
        var leaderId = await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
        var leader = _cluster[leaderId];
        var term = (await leader.TryGetHealthAsync())!.Term;
        var hello = await ClientHelloAsync();

        // From 127.0.0.1, a member's own address: the address rule cannot help, the cap and the
        // handshake deadline must. 800 slow-loris, 100 that never send, 100 that send a real
        // ClientHello (the server does its key exchange) and then stall.
        using var attack = new CancellationTokenSource(TimeSpan.FromSeconds(8));
        var slow = Enumerable.Range(0, SlowConnections).Select(_ => SlowLorisAsync(leader.RaftPort, attack.Token)).ToArray();
        var idle = Enumerable.Range(0, 100).Select(_ => StallingAsync(leader.RaftPort, [], attack.Token)).ToArray();
        var stalled = Enumerable.Range(0, 100).Select(_ => StallingAsync(leader.RaftPort, hello, attack.Token)).ToArray();

        var failures = new List<string>();
        var writes = 0;
        var longestGap = TimeSpan.Zero;
        var sinceLastAck = Stopwatch.StartNew();
        for (var i = 0; !attack.IsCancellationRequested; i++)
        {
            try
            {
                await TestCluster.SubmitAsync(leader, new { workflow = "echo", payload = i });
                writes++;
                longestGap = sinceLastAck.Elapsed > longestGap ? sinceLastAck.Elapsed : longestGap;
                sinceLastAck.Restart();
            }
            catch (HttpRequestException ex)
            {
                failures.Add($"write {i} at {sinceLastAck.Elapsed.TotalMilliseconds:0} ms since the last ack: {ex.Message}");
            }
        }

        var opened = (await Task.WhenAll(slow)).Sum();
        var idleLives = (await Task.WhenAll(idle)).SelectMany(l => l).ToList();
        var stalledLives = (await Task.WhenAll(stalled)).SelectMany(l => l).ToList();
        var health = await leader.TryGetHealthAsync();
        var report = $"{opened} slow-loris connections opened, {idleLives.Count} idle and {stalledLives.Count} stalled handshakes closed by the leader " +
            $"(longest lived {Longest(idleLives):0} / {Longest(stalledLives):0} ms); {writes} writes, longest gap between acks {longestGap.TotalMilliseconds:0} ms; {failures.Count} failed";
        output.WriteLine(report);
        Assert.True(failures.Count == 0, report + Environment.NewLine + string.Join(Environment.NewLine, failures.Take(10)));
        Assert.True(writes >= 20, report);
        Assert.True(longestGap < TimeSpan.FromSeconds(1), report);
        Assert.Equal(leaderId, health?.Leader);
        Assert.Equal(term, health?.Term);

        // The leader closed what it would not serve: every idle or stalled connection it accepted
        // was gone by the handshake deadline (plus scheduling slack on a loaded 2-core box).
        Assert.NotEmpty(idleLives);
        Assert.NotEmpty(stalledLives);
        Assert.True(Longest(idleLives.Concat(stalledLives)) < HandshakeMs + 1500, report);
    }

    [Fact]
    public async Task ConnectionsBeyondTheCapAreClosedAtOnceAndTheRestAtTheHandshakeDeadline()
    {
        var node = _cluster.Nodes[^1];
        var sockets = new List<Socket>();
        try
        {
            var watch = Stopwatch.StartNew();
            var closing = new List<Task<TimeSpan>>();
            for (var i = 0; i < Cap + 24; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, node.RaftPort));
                    closing.Add(ClosedAfterAsync(socket, watch, TimeSpan.FromSeconds(10)));
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
                {
                    // Reset as soon as it was accepted.
                    closing.Add(Task.FromResult(watch.Elapsed));
                }
            }

            var closedAt = await Task.WhenAll(closing);
            var early = closedAt.Count(t => t < TimeSpan.FromMilliseconds(HandshakeMs / 2));
            var report = $"{sockets.Count} idle connections: closed at " + string.Join(", ", closedAt.Select(t => $"{t.TotalMilliseconds:0}"));
            output.WriteLine(report);

            // The peers' own connections hold slots too, so at least 24 are refused at once...
            Assert.True(early >= 24, report);

            // ...but not all: the cap is a cap, not a wall.
            Assert.True(early < sockets.Count, report);

            // And the ones it admitted were dropped at the handshake deadline, not left to linger.
            Assert.True(closedAt.Max() < TimeSpan.FromMilliseconds(HandshakeMs + 1500), report);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task APeerWithTheWrongSecretIsRefusedQuickly()
    {
        var node = _cluster.Nodes[0];
        using var certificate = CertificateFor("not-the-cluster-secret");
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, node.RaftPort);
        using var ssl = new SslStream(tcp.GetStream());
        var watch = Stopwatch.StartNew();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        // Under TLS 1.3 the client may finish its side before the server has checked its
        // certificate: the refusal then shows on the first read.
        var refused = false;
        try
        {
            await ssl.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions { TargetHost = "flotilla-raft", ClientCertificates = [certificate], RemoteCertificateValidationCallback = (_, _, _, _) => true },
                limit.Token);
            refused = await ssl.ReadAsync(new byte[1], limit.Token) == 0;
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException)
        {
            refused = true;
        }

        output.WriteLine($"refused={refused} after {watch.ElapsedMilliseconds} ms");
        Assert.True(refused);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"refused after {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task AConnectionFromAnAddressThatIsNoMemberIsDroppedBeforeTheHandshake()
    {
        var node = _cluster.Nodes[0];
        var hello = await ClientHelloAsync();

        // From a member's address the same ClientHello gets the server's answer...
        var fromMember = await HelloFromAsync(IPAddress.Loopback, node.RaftPort, hello);

        // ...from 127.0.0.2 (this host too, but no member's address: they all are 127.0.0.1) it
        // gets nothing: reset as accepted.
        var watch = Stopwatch.StartNew();
        var fromStranger = await HelloFromAsync(IPAddress.Parse("127.0.0.2"), node.RaftPort, hello);
        output.WriteLine($"member: {fromMember} bytes back; stranger: {fromStranger} bytes back, closed after {watch.ElapsedMilliseconds} ms");

        Assert.True(fromMember > 0);
        Assert.Equal(0, fromStranger);
        Assert.True(watch.Elapsed < TimeSpan.FromMilliseconds(HandshakeMs / 2), $"closed after {watch.ElapsedMilliseconds} ms");
    }

    // Sends a ClientHello from `source`; returns how many bytes came back before the server closed.
    private static async Task<int> HelloFromAsync(IPAddress source, int port, byte[] hello)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(source, 0));
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
            await socket.SendAsync(hello, SocketFlags.None);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Reset as soon as it was accepted (a refused connection, nothing listening, fails the test).
            return 0;
        }

        return await ReadAllAsync(socket, TimeSpan.FromSeconds(5));
    }

    private static double Longest(IEnumerable<double> lives) => lives.DefaultIfEmpty(0).Max();

    // One attacker: connects, sends one byte every 2 s; connects again when dropped. Returns how many connections it opened.
    private static async Task<int> SlowLorisAsync(int port, CancellationToken token)
    {
        var opened = 0;
        while (!token.IsCancellationRequested)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), token);
                opened++;
                while (!token.IsCancellationRequested)
                {
                    await socket.SendAsync(new byte[] { 0x16 }, SocketFlags.None, token);
                    await Task.Delay(2_000, token);
                }
            }
            catch (OperationCanceledException)
            {
                return opened;
            }
            catch (SocketException)
            {
                await Task.Delay(100, CancellationToken.None);
            }
        }

        return opened;
    }

    // One attacker: connects, sends `first` (nothing, or a ClientHello) and then nothing more;
    // connects again when the server closes. Returns how long (ms) each connection lived that
    // the server closed.
    private static async Task<List<double>> StallingAsync(int port, byte[] first, CancellationToken token)
    {
        var lives = new List<double>();
        var buffer = new byte[4096];
        while (!token.IsCancellationRequested)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), token);
                var watch = Stopwatch.StartNew();
                if (first.Length > 0)
                {
                    await socket.SendAsync(first, SocketFlags.None, token);
                }

                try
                {
                    while (await socket.ReceiveAsync(buffer, SocketFlags.None, token) > 0)
                    {
                    }
                }
                catch (SocketException)
                {
                    // A reset is a close too.
                }

                lives.Add(watch.Elapsed.TotalMilliseconds);
            }
            catch (OperationCanceledException)
            {
                return lives;
            }
            catch (SocketException)
            {
                // Refused or reset before it could send: try again.
                await Task.Delay(100, CancellationToken.None);
            }
        }

        return lives;
    }

    // When the server closed an idle connection (FIN or reset), or `limit` if it did not.
    private static async Task<TimeSpan> ClosedAfterAsync(Socket socket, Stopwatch since, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            while (await socket.ReceiveAsync(new byte[64], SocketFlags.None, timeout.Token) > 0)
            {
            }
        }
        catch (OperationCanceledException)
        {
            return limit;
        }
        catch (SocketException)
        {
        }

        return since.Elapsed;
    }

    // How many bytes the server sent before it closed the connection.
    private static async Task<int> ReadAllAsync(Socket socket, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        var total = 0;
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                total += read;
            }
        }
        catch (SocketException)
        {
        }

        return total;
    }

    // A real TLS ClientHello, as an SslStream client sends it: captured by a listener that reads
    // the first flight and hangs up.
    private static async Task<byte[]> ClientHelloAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await listener.AcceptTcpClientAsync();
        using var ssl = new SslStream(client.GetStream());
        var handshake = ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "flotilla-raft" });
        var buffer = new byte[16 * 1024];
        var read = await server.GetStream().ReadAsync(buffer);
        server.Client.Close();
        await handshake.ContinueWith(_ => { }, TaskScheduler.Default);
        return buffer[..read];
    }

    // A certificate stamped the way RaftTransportSecurity stamps it, with another secret.
    private static X509Certificate2 CertificateFor(string secret)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=flotilla-raft", key, HashAlgorithmName.SHA256);
        var proof = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), request.PublicKey.ExportSubjectPublicKeyInfo());
        request.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.99999.7101.1", proof, critical: false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Three real nodes with the Raft port's bounds set explicitly (the tests count against them).</summary>
    public sealed class GuardedCluster : IAsyncLifetime
    {
        internal TestCluster Cluster { get; } = TestCluster.Create(configure: n =>
        {
            n.Settings["Worker:Enabled"] = "false";
            n.Settings["Cluster:RaftMaxConnections"] = Cap.ToString(System.Globalization.CultureInfo.InvariantCulture);
            n.Settings["Cluster:RaftHandshakeTimeoutMs"] = HandshakeMs.ToString(System.Globalization.CultureInfo.InvariantCulture);
        });

        public async Task InitializeAsync()
        {
            try
            {
                await Cluster.StartAsync();
            }
            catch
            {
                await DisposeAsync();
                throw;
            }
        }

        public Task DisposeAsync() => Cluster.DisposeAsync().AsTask();
    }
}
