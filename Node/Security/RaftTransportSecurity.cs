using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using DotNext.Net.Security;

namespace Flotilla.Node.Security;

/// <summary>
/// Mutual TLS for the Raft TCP transport, keyed by the cluster secret. Each node makes a fresh
/// self-signed certificate at start and stamps it with a proof: HMAC-SHA256(secret, the
/// certificate's public key). A peer is accepted (as server and as client) only if its
/// certificate carries a valid proof; TLS itself shows the peer holds that certificate's private
/// key. So only a holder of the secret can connect, nothing shared is on disk, and a recorded
/// certificate is useless without its key.
/// </summary>
internal static class RaftTransportSecurity
{
    // A private-use OID for the proof extension.
    private const string ProofOid = "1.3.6.1.4.1.99999.7101.1";
    private const string HostName = "flotilla-raft";

    public static SslOptions Create(string secret)
    {
        var certificate = CreateCertificate(secret);
        bool Verify(object sender, X509Certificate? peer, X509Chain? chain, SslPolicyErrors errors) =>
            peer is not null && HasProof(secret, peer as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(peer.GetRawCertData()));

        var options = new SslOptions();
        options.ServerOptions.ServerCertificate = certificate;
        options.ServerOptions.ClientCertificateRequired = true;
        options.ServerOptions.RemoteCertificateValidationCallback = Verify;
        options.ServerOptions.CertificateRevocationCheckMode = X509RevocationMode.NoCheck;
        options.ClientOptions.TargetHost = HostName;
        options.ClientOptions.ClientCertificates = [certificate];
        options.ClientOptions.RemoteCertificateValidationCallback = Verify;
        options.ClientOptions.CertificateRevocationCheckMode = X509RevocationMode.NoCheck;
        return options;
    }

    internal static X509Certificate2 CreateCertificate(string secret)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + HostName, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509Extension(ProofOid, Proof(secret, request.PublicKey.ExportSubjectPublicKeyInfo()), critical: false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(10));

        // SslStream on Linux wants a certificate whose key came from a store, not an ephemeral one.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

    internal static bool HasProof(string secret, X509Certificate2 certificate)
    {
        var extension = certificate.Extensions[ProofOid];
        if (extension is null)
        {
            return false;
        }

        var expected = Proof(secret, certificate.PublicKey.ExportSubjectPublicKeyInfo());
        return CryptographicOperations.FixedTimeEquals(expected, extension.RawData);
    }

    private static byte[] Proof(string secret, byte[] subjectPublicKeyInfo) =>
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), subjectPublicKeyInfo);
}
