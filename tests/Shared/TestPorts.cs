using System.Net;
using System.Net.Sockets;

namespace Flotilla.Tests.Shared;

/// <summary>
/// Free ports for processes a test starts, below the kernel's ephemeral range (32768 and up on
/// Linux). A port the kernel picked for a probe is in that range: between the probe and the
/// node's own bind, the kernel could hand it to anything that asks for port 0 or connects out
/// (another node's internal Raft listener, an HTTP client), and the node then failed to start
/// with "address already in use". Below the range only an explicit bind takes a port, and this
/// process never hands out the same one twice. Linked into the test projects that start nodes.
/// </summary>
public static class TestPorts
{
    private const int First = 20_000;
    private const int End = 32_000;
    private static readonly HashSet<int> Given = [];
    private static readonly Lock Gate = new();

    /// <summary><paramref name="count"/> free ports, not necessarily adjacent.</summary>
    public static int[] Take(int count) => Enumerable.Range(0, count).Select(_ => TakeRange(1)).ToArray();

    /// <summary>The first of <paramref name="count"/> adjacent free ports.</summary>
    public static int TakeRange(int count)
    {
        lock (Gate)
        {
            for (var attempt = 0; attempt < 1000; attempt++)
            {
                var start = Random.Shared.Next(First, End - count);
                var ports = Enumerable.Range(start, count).ToList();
                if (ports.Any(Given.Contains) || !ports.All(IsFree))
                {
                    continue;
                }

                Given.UnionWith(ports);
                return start;
            }
        }

        throw new InvalidOperationException($"No {count} free adjacent port(s) between {First} and {End}.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
