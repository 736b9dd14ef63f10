using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace Flotilla.Node.Tests.Security;

/// <summary>
/// The server half of a real TLS handshake over loopback, for one client: accepts, completes the
/// handshake with the given options, then runs <c>afterHandshake</c> on the stream. Tests connect
/// with <see cref="ConnectAsync"/> and do their own client half; all of it ends within 10 s.
/// </summary>
internal sealed class LoopbackTlsServer<T> : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));
    private readonly TcpClient _client = new();

    public LoopbackTlsServer(SslServerAuthenticationOptions options, Func<SslStream, CancellationToken, Task<T>> afterHandshake)
    {
        _listener.Start();
        Served = Task.Run(async () =>
        {
            using var socket = await _listener.AcceptTcpClientAsync(Token);
            await using var tls = new SslStream(socket.GetStream());
            await tls.AuthenticateAsServerAsync(options, Token);
            return await afterHandshake(tls, Token);
        });
    }

    public CancellationToken Token => _timeout.Token;

    /// <summary>What the server side returned, or how it failed.</summary>
    public Task<T> Served { get; }

    public async Task<NetworkStream> ConnectAsync()
    {
        await _client.ConnectAsync((IPEndPoint)_listener.LocalEndpoint, Token);
        return _client.GetStream();
    }

    public void Dispose()
    {
        _client.Dispose();
        _listener.Dispose();
        _timeout.Dispose();
    }
}
