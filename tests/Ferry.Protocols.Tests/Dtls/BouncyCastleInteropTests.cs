using System.Collections.Concurrent;
using System.Diagnostics;
using Ferry.Protocols.Dtls;
using Ferry.Protocols.Srtp;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace Ferry.Protocols.Tests.Dtls;

/// <summary>
/// Interop with an independent DTLS 1.2 implementation: BouncyCastle's, on a test thread with its
/// blocking API (it is only the peer), against Ferry's sans-IO endpoint driven on this thread in real time.
/// </summary>
public partial class BouncyCastleInteropTests
{
    private static readonly DtlsCertificate FerryCertificate = DtlsCertificate.Generate();
    private static readonly DtlsCertificate PeerCertificate = DtlsCertificate.Generate();
    private const int AesCm80 = 0x0001;

    /// <summary>Two queues standing in for the wire.</summary>
    private sealed class MemoryTransport : DatagramTransport
    {
        public readonly BlockingCollection<byte[]> ToPeer = new();
        public readonly BlockingCollection<byte[]> FromPeer = new();
        public int GetReceiveLimit() => 1500;
        public int GetSendLimit() => 1350;
        public int Receive(byte[] buf, int off, int len, int waitMillis) => Receive(buf.AsSpan(off, len), waitMillis);
        public int Receive(Span<byte> buffer, int waitMillis)
        {
            if (!ToPeer.TryTake(out var d, waitMillis)) return -1;
            d.CopyTo(buffer);
            return d.Length;
        }
        public void Send(byte[] buf, int off, int len) => Send(buf.AsSpan(off, len));
        public void Send(ReadOnlySpan<byte> buffer) => FromPeer.Add(buffer.ToArray());
        public void Close() { }
    }

    private static (Certificate Chain, AsymmetricKeyParameter Key) BcCredentials(BcTlsCrypto crypto, DtlsCertificate certificate) =>
        (new Certificate([new BcTlsCertificate(crypto, certificate.CertificateDer)]), PrivateKeyFactory.CreateKey(certificate.PrivateKeyPkcs8));

    private sealed class Client(BcTlsCrypto crypto) : DefaultTlsClient(crypto)
    {
        public byte[]? Keys;
        public int? Profile;
        /// <summary>Suites to offer instead of BouncyCastle's defaults.</summary>
        public int[]? Suites;
        /// <summary>Alerts received (level, description), from the peer thread.</summary>
        public readonly ConcurrentQueue<(short Level, short Description)> Alerts = new();
        protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.DTLSv12.Only();
        protected override int[] GetSupportedCipherSuites() => Suites ?? base.GetSupportedCipherSuites();
        public override void NotifyAlertReceived(short alertLevel, short alertDescription) => Alerts.Enqueue((alertLevel, alertDescription));
        public override IDictionary<int, byte[]> GetClientExtensions()
        {
            var extensions = base.GetClientExtensions() ?? new Dictionary<int, byte[]>();
            TlsSrtpUtilities.AddUseSrtpExtension(extensions, new UseSrtpData([AesCm80], TlsUtilities.EmptyBytes));
            return extensions;
        }
        public override void ProcessServerExtensions(IDictionary<int, byte[]> serverExtensions)
        {
            base.ProcessServerExtensions(serverExtensions);
            Profile = TlsSrtpUtilities.GetUseSrtpExtension(serverExtensions)?.ProtectionProfiles[0];
        }
        public override TlsAuthentication GetAuthentication() => new Authentication(this);
        public override void NotifyHandshakeComplete()
        {
            base.NotifyHandshakeComplete();
            Keys = m_context.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 2 * (16 + 14));
        }

        private sealed class Authentication(Client client) : TlsAuthentication
        {
            public void NotifyServerCertificate(TlsServerCertificate serverCertificate) { }
            public TlsCredentials GetClientCredentials(CertificateRequest certificateRequest)
            {
                var (chain, key) = BcCredentials((BcTlsCrypto)client.Crypto, PeerCertificate);
                return new BcDefaultTlsCredentialedSigner(new TlsCryptoParameters(client.m_context), (BcTlsCrypto)client.Crypto, key, chain,
                    new SignatureAndHashAlgorithm(HashAlgorithm.sha256, SignatureAlgorithm.ecdsa));
            }
        }
    }

    private sealed class Server(BcTlsCrypto crypto) : DefaultTlsServer(crypto)
    {
        public byte[]? Keys;
        private int[]? _offered;
        /// <summary>Suites to accept instead of the two below.</summary>
        public int[]? Suites;
        /// <summary>Alerts received (level, description), from the peer thread.</summary>
        public readonly ConcurrentQueue<(short Level, short Description)> Alerts = new();
        protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.DTLSv12.Only();
        // Our certificate is ECDSA: offer only ECDSA suites.
        protected override int[] GetSupportedCipherSuites() =>
            Suites ?? [CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384];
        public override void NotifyAlertReceived(short alertLevel, short alertDescription) => Alerts.Enqueue((alertLevel, alertDescription));
        public override void ProcessClientExtensions(IDictionary<int, byte[]> clientExtensions)
        {
            base.ProcessClientExtensions(clientExtensions);
            _offered = TlsSrtpUtilities.GetUseSrtpExtension(clientExtensions)?.ProtectionProfiles;
        }
        public override IDictionary<int, byte[]> GetServerExtensions()
        {
            var extensions = base.GetServerExtensions() ?? new Dictionary<int, byte[]>();
            if (_offered is not null && _offered.Contains(AesCm80))
                TlsSrtpUtilities.AddUseSrtpExtension(extensions, new UseSrtpData([AesCm80], TlsUtilities.EmptyBytes));
            return extensions;
        }
        protected override TlsCredentialedSigner GetECDsaSignerCredentials()
        {
            var (chain, key) = BcCredentials((BcTlsCrypto)Crypto, PeerCertificate);
            return new BcDefaultTlsCredentialedSigner(new TlsCryptoParameters(m_context), (BcTlsCrypto)Crypto, key, chain,
                new SignatureAndHashAlgorithm(HashAlgorithm.sha256, SignatureAlgorithm.ecdsa));
        }
        // The certificate is checked by fingerprint in WebRTC, not by a chain: accept it here.
        public override void NotifyClientCertificate(Certificate clientCertificate) { }
        public override CertificateRequest GetCertificateRequest() =>
            new([ClientCertificateType.ecdsa_sign], TlsUtilities.GetDefaultSupportedSignatureAlgorithms(m_context), null);
        public override void NotifyHandshakeComplete()
        {
            base.NotifyHandshakeComplete();
            Keys = m_context.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", null, 2 * (16 + 14));
        }
    }

    /// <summary>Pumps datagrams between the BouncyCastle peer (on its thread) and the Ferry endpoint until <paramref name="peer"/> ends.</summary>
    private static void Pump(DtlsEndpoint ferry, MemoryTransport wire, Task peer)
    {
        var clock = Stopwatch.StartNew();
        ferry.Start(clock.Elapsed);
        while (!peer.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            while (ferry.TryPollDatagram(out var d)) wire.ToPeer.Add(d);
            if (wire.FromPeer.TryTake(out var incoming, 20)) ferry.HandleDatagram(clock.Elapsed, incoming);
            ferry.HandleTimeout(clock.Elapsed);
        }
        // Let the last flight reach the endpoint.
        while (wire.FromPeer.TryTake(out var rest, 50)) ferry.HandleDatagram(clock.Elapsed, rest);
        while (ferry.TryPollDatagram(out var d)) wire.ToPeer.Add(d);
        peer.GetAwaiter().GetResult();
    }

    private static SrtpKeyingMaterial ConnectedKeys(DtlsEndpoint endpoint)
    {
        DtlsEvent? connected = null;
        var events = new List<DtlsEvent>();
        while (endpoint.TryPollEvent(out var e)) events.Add(e);
        connected = events.FirstOrDefault(e => e.Kind == DtlsEventKind.Connected);
        Assert.True(connected is not null, string.Join("; ", events.Select(e => $"{e.Kind} {e.Reason}")));
        return connected!.Keys!;
    }

    [Fact]
    public void BouncyCastle_client_against_the_ferry_server_derives_the_same_srtp_keys()
    {
        using var context = new DtlsContext(FerryCertificate);
        using var ferry = new DtlsEndpoint(context, DtlsRole.Server, PeerCertificate.Fingerprint("sha-256"));
        var wire = new MemoryTransport();
        var client = new Client(new BcTlsCrypto(new SecureRandom()));
        var peer = Task.Factory.StartNew(() => new DtlsClientProtocol().Connect(client, wire), TaskCreationOptions.LongRunning);
        Pump(ferry, wire, peer);

        var keys = ConnectedKeys(ferry);
        Assert.Equal(SrtpProfile.AesCm128HmacSha1_80, keys.Profile);
        Assert.Equal(AesCm80, client.Profile);
        var material = client.Keys!;
        Assert.Equal(material[..16], keys.RemoteKey);          // client write key
        Assert.Equal(material[16..32], keys.LocalKey);         // server write key
        Assert.Equal(material[32..46], keys.RemoteSalt);
        Assert.Equal(material[46..60], keys.LocalSalt);
    }

    [Fact]
    public void The_ferry_client_against_a_BouncyCastle_server_derives_the_same_srtp_keys()
    {
        using var context = new DtlsContext(FerryCertificate, [SrtpProfile.AesCm128HmacSha1_80]);
        using var ferry = new DtlsEndpoint(context, DtlsRole.Client, PeerCertificate.Fingerprint("sha-256"));
        var wire = new MemoryTransport();
        var server = new Server(new BcTlsCrypto(new SecureRandom()));
        var peer = Task.Factory.StartNew(() => new DtlsServerProtocol().Accept(server, wire), TaskCreationOptions.LongRunning);
        Pump(ferry, wire, peer);

        var keys = ConnectedKeys(ferry);
        var material = server.Keys!;
        Assert.Equal(material[..16], keys.LocalKey);
        Assert.Equal(material[16..32], keys.RemoteKey);
        Assert.Equal(material[32..46], keys.LocalSalt);
        Assert.Equal(material[46..60], keys.RemoteSalt);
    }
}
