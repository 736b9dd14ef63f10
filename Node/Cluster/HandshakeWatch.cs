namespace Flotilla.Node.Cluster;

/// <summary>
/// Watches the bytes a Raft peer sends on a new connection and tells when it has finished its
/// TLS handshake: when its first application-data record begins (content type 23). Under TLS
/// 1.3 the client's certificate and Finished already travel in such records; under TLS 1.2 the
/// first one is the peer's first request, which a DotNext client sends right after the
/// handshake. Without TLS the first byte is the start of the first request. The watch reads
/// only the 5-byte record headers and skips the bodies, so it costs nothing per byte.
/// </summary>
internal struct HandshakeWatch(bool tls)
{
    private const byte ApplicationData = 23;
    private const int HeaderLength = 5;

    private int _headerRead;
    private int _length;
    private int _bodyLeft;

    public bool Done { get; private set; }

    /// <summary>Feeds the next bytes the peer sent; returns <see cref="Done"/>.</summary>
    public bool Observe(ReadOnlySpan<byte> bytes)
    {
        if (Done || bytes.IsEmpty)
        {
            return Done;
        }

        if (!tls)
        {
            return Done = true;
        }

        while (!bytes.IsEmpty)
        {
            if (_bodyLeft > 0)
            {
                var skip = Math.Min(_bodyLeft, bytes.Length);
                _bodyLeft -= skip;
                bytes = bytes[skip..];
                continue;
            }

            // Header: type (1), version (2), length (2, big-endian).
            var b = bytes[0];
            bytes = bytes[1..];
            switch (_headerRead++)
            {
                case 0:
                    if (b == ApplicationData)
                    {
                        return Done = true;
                    }

                    break;
                case 3:
                    _length = b << 8;
                    break;
                case 4:
                    _bodyLeft = _length | b;
                    _headerRead = 0;
                    break;
            }
        }

        return Done;
    }
}
