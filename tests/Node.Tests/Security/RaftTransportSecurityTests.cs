using System.Net.Security;
using Flotilla.Node.Security;

namespace Flotilla.Node.Tests.Security;

public sealed class RaftTransportSecurityTests
{
    [Fact]
    public async Task PeersWithTheSameSecretCompleteTheHandshake()
    {
        Assert.True(await HandshakeAsync("cluster-a", "cluster-a"));
    }

    [Theory]
    [InlineData("cluster-a", "cluster-b")]
    [InlineData("cluster-b", "cluster-a")]
    public async Task APeerWithAnotherSecretIsRefusedEitherWay(string server, string client)
    {
        Assert.False(await HandshakeAsync(server, client));
    }

    [Fact]
    public void ACertificateProvesOnlyItsOwnSecret()
    {
        using var certificate = RaftTransportSecurity.CreateCertificate("s1");

        Assert.True(RaftTransportSecurity.HasProof("s1", certificate));
        Assert.False(RaftTransportSecurity.HasProof("s2", certificate));
    }

    // A real TLS handshake over loopback with the options the Raft transport gets.
    private static async Task<bool> HandshakeAsync(string serverSecret, string clientSecret)
    {
        var serverOptions = RaftTransportSecurity.Create(serverSecret);
        var clientOptions = RaftTransportSecurity.Create(clientSecret);
        using var server = new LoopbackTlsServer<bool>(serverOptions.ServerOptions, (tls, _) => Task.FromResult(tls.IsMutuallyAuthenticated));
        await using var stream = new SslStream(await server.ConnectAsync());
        var clientOk = true;
        try
        {
            await stream.AuthenticateAsClientAsync(clientOptions.ClientOptions, server.Token);
        }
        catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException)
        {
            clientOk = false;
        }

        bool serverOk;
        try
        {
            serverOk = await server.Served;
        }
        catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException)
        {
            serverOk = false;
        }

        return clientOk && serverOk;
    }
}
