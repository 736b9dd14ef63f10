using System.Net.Security;
using Flotilla.Node.Cluster;
using Flotilla.Node.Security;
using Flotilla.Node.Tests.Security;

namespace Flotilla.Node.Tests.Cluster;

public sealed class HandshakeWatchTests
{
    [Fact]
    public async Task AClientHelloAloneIsNotAFinishedHandshake()
    {
        var (handshake, _) = await RecordClientAsync();
        var watch = new HandshakeWatch(tls: true);

        Assert.False(watch.Observe(handshake[0]));
    }

    [Fact]
    public async Task TheHandshakeIsFinishedByTheClientsFirstApplicationDataEvenFedByteByByte()
    {
        var (handshake, request) = await RecordClientAsync();
        var whole = new HandshakeWatch(tls: true);
        var bytewise = new HandshakeWatch(tls: true);

        foreach (var chunk in handshake.Append(request))
        {
            whole.Observe(chunk);
            foreach (var b in chunk)
            {
                bytewise.Observe([b]);
            }
        }

        Assert.True(whole.Done);
        Assert.True(bytewise.Done);
    }

    [Fact]
    public void WithoutTlsTheFirstByteStartsTheFirstRequest()
    {
        var watch = new HandshakeWatch(tls: false);

        Assert.False(watch.Observe([]));
        Assert.True(watch.Observe([7]));
    }

    [Fact]
    public void ASlowLorisTrickleOfHandshakeBytesNeverFinishes()
    {
        var watch = new HandshakeWatch(tls: true);

        // A handshake record header announcing 16 KiB, then its body a byte at a time.
        watch.Observe([22, 3, 1, 0x40, 0x00]);
        for (var i = 0; i < 1000; i++)
        {
            Assert.False(watch.Observe([23]));
        }
    }

    // A real mutual-TLS handshake with the Raft transport's options, recording what the client
    // sends: its handshake writes, then one request written after it.
    private static async Task<(List<byte[]> Handshake, byte[] Request)> RecordClientAsync()
    {
        var options = RaftTransportSecurity.Create("s");
        using var server = new LoopbackTlsServer<int>(options.ServerOptions, async (tls, token) =>
        {
            await tls.ReadExactlyAsync(new byte[1], token);
            return 1;
        });
        var recording = new RecordingStream(await server.ConnectAsync());
        await using var stream = new SslStream(recording);
        await stream.AuthenticateAsClientAsync(options.ClientOptions, server.Token);
        var handshake = recording.Take();
        await stream.WriteAsync(new byte[] { 1 }, server.Token);
        await stream.FlushAsync(server.Token);
        var request = recording.Take().SelectMany(c => c).ToArray();
        await server.Served;
        return (handshake, request);
    }

    private sealed class RecordingStream(Stream inner) : Stream
    {
        private readonly List<byte[]> _writes = [];

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public List<byte[]> Take()
        {
            lock (_writes)
            {
                var taken = _writes.ToList();
                _writes.Clear();
                return taken;
            }
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            lock (_writes)
            {
                _writes.Add(buffer.ToArray());
            }

            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush() => inner.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
