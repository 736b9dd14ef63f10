using System.Net;
using Flotilla.Node.Cluster;

namespace Flotilla.Node.Tests.Cluster;

public sealed class RaftPortGuardTests
{
    [Fact]
    public void TheBackendPortIsNeverThePublicOneEvenWhenTheKernelOffersIt()
    {
        // The guard binds the public port only after the backend port is chosen; a public port in
        // the ephemeral range can be offered for the backend, and DotNext then failed to bind.
        var offered = new Queue<int>([40_001, 40_001, 40_002]);
        var backend = RaftPortGuard.FreeLoopbackEndPoint(40_001, () => new IPEndPoint(IPAddress.Loopback, offered.Dequeue()));

        Assert.Equal(40_002, backend.Port);
        Assert.Empty(offered);
    }

    [Fact]
    public void TheBackendPortIsAFreeLoopbackPort()
    {
        var backend = RaftPortGuard.FreeLoopbackEndPoint(publicPort: 0);

        Assert.Equal(IPAddress.Loopback, backend.Address);
        using var listener = new System.Net.Sockets.TcpListener(backend);
        listener.Start();
    }
}
