using System.Text;
using System.Text.Json;
using Ferry.Protocols.Dtls;
using Ferry.Protocols.Srtp;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace Ferry.Protocols.Tests.Dtls;

/// <summary>
/// Moves of Ferry's side onto its own record layer against BouncyCastle's DTLS 1.2: an independent
/// implementation of the record protection that Ferry's imported endpoint must interoperate with.
/// After the handshake the BouncyCastle transport is driven on this thread (its Receive waits on the
/// memory wire, which the test fills first), so everything is sequential.
/// </summary>
public partial class BouncyCastleInteropTests
{
    public static TheoryData<int, string, DtlsRole> BcSuites()
    {
        var data = new TheoryData<int, string, DtlsRole>();
        foreach (var role in new[] { DtlsRole.Server, DtlsRole.Client })
        {
            data.Add(CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", role);
            data.Add(CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", role);
            data.Add(CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", role);
        }
        return data;
    }

    /// <summary>A Ferry endpoint that can move, connected to a BouncyCastle peer over the memory wire.</summary>
    private sealed class BcLink : IDisposable
    {
        public DtlsEndpoint Ferry;
        public readonly DtlsTransport Peer;
        public readonly MemoryTransport Wire = new();
        public readonly List<byte[]> FerryToPeer = [];
        public readonly List<DtlsEvent> FerryEvents = [];
        public readonly Client? BcClient;
        public readonly Server? BcServer;
        private readonly DtlsContext _context;

        public BcLink(DtlsRole ferryRole, int suite)
        {
            _context = new DtlsContext(FerryCertificate, [SrtpProfile.AesCm128HmacSha1_80]);
            Ferry = new DtlsEndpoint(_context, ferryRole, PeerCertificate.Fingerprint("sha-256"));
            Task<DtlsTransport> peer;
            if (ferryRole == DtlsRole.Server)
            {
                BcClient = new Client(new BcTlsCrypto(new SecureRandom())) { Suites = [suite] };
                peer = Task.Factory.StartNew(() => new DtlsClientProtocol().Connect(BcClient, Wire), TaskCreationOptions.LongRunning);
            }
            else
            {
                BcServer = new Server(new BcTlsCrypto(new SecureRandom())) { Suites = [suite] };
                peer = Task.Factory.StartNew(() => new DtlsServerProtocol().Accept(BcServer, Wire), TaskCreationOptions.LongRunning);
            }
            Pump(Ferry, Wire, peer);
            Peer = peer.Result;
            while (Ferry.TryPollEvent(out var e)) FerryEvents.Add(e);
            Assert.Equal(DtlsState.Connected, Ferry.State);
        }

        public IEnumerable<(short Level, short Description)> PeerAlerts => (IEnumerable<(short, short)>?)BcClient?.Alerts ?? BcServer!.Alerts;

        /// <summary>Sends what Ferry queued to the peer (and logs it).</summary>
        public void FlushFerry()
        {
            while (Ferry.TryPollDatagram(out var d))
            {
                FerryToPeer.Add(d);
                Wire.ToPeer.Add(d);
            }
        }

        /// <summary>Hands every datagram the peer sent to Ferry, through <paramref name="filter"/> if given.</summary>
        public void DeliverToFerry(Func<byte[], byte[]>? filter = null)
        {
            while (Wire.FromPeer.TryTake(out var d)) Ferry.HandleDatagram(TimeSpan.Zero, filter is null ? d : filter(d));
            while (Ferry.TryPollEvent(out var e)) FerryEvents.Add(e);
            FlushFerry();
        }

        /// <summary>The peer's next application data, or null when it reports none (closed or nothing within the wait).</summary>
        public string? PeerReceive()
        {
            var buffer = new byte[20000];
            var n = Peer.Receive(buffer, 0, buffer.Length, 200);
            return n < 0 ? null : Encoding.UTF8.GetString(buffer, 0, n);
        }

        public List<string> Received() =>
            FerryEvents.Where(e => e.Kind == DtlsEventKind.ApplicationData).Select(e => Encoding.UTF8.GetString(e.Data!)).ToList();

        public DtlsSessionState Move()
        {
            var state = Ferry.ExportState()!;
            var back = JsonSerializer.Deserialize<DtlsSessionState>(JsonSerializer.Serialize(state))!;
            DtlsImportTests.AssertSameState(state, back);
            Ferry.Dispose();
            Ferry = DtlsEndpoint.Import(back);
            return state;
        }

        public void Dispose()
        {
            Ferry.Dispose();
            _context.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(BcSuites))]
    public void Data_flows_both_ways_with_a_BouncyCastle_peer_across_three_moves(int bcSuite, string suite, DtlsRole ferryRole)
    {
        using var link = new BcLink(ferryRole, bcSuite);
        var fromFerry = new List<string>();
        var fromPeer = new List<string>();
        void Exchange(string tag)
        {
            for (var i = 0; i < 4; i++)
            {
                var f = $"ferry {tag} {i}";
                var p = $"peer {tag} {i}";
                Assert.True(link.Ferry.SendApplicationData(Encoding.UTF8.GetBytes(f)));
                link.Peer.Send(Encoding.UTF8.GetBytes(p));
                fromFerry.Add(f);
                fromPeer.Add(p);
            }
            link.FlushFerry();
            for (var i = 0; i < 4; i++) Assert.Equal(fromFerry[^(4 - i)], link.PeerReceive());
            link.DeliverToFerry();
        }
        Exchange("before");
        for (var move = 1; move <= 3; move++)
        {
            var state = link.Move();
            Assert.Equal(suite, state.CipherSuite);
            Exchange($"after move {move}");
        }
        Assert.Equal(fromPeer, link.Received());
        // Ferry's records after the handshake: one sequence, no gap or repeat across the moves.
        var sequences = DtlsImportTests.Records(link.FerryToPeer).Select(r => r.Sequence).ToList();
        Assert.Equal(Enumerable.Range(0, sequences.Count).Select(i => sequences[0] + i), sequences);
        Assert.Empty(link.PeerAlerts);

        // A flipped ciphertext byte from BouncyCastle is dropped and counted; the next record still arrives.
        link.Peer.Send("tampered"u8.ToArray());
        link.DeliverToFerry(d => { var c = (byte[])d.Clone(); c[^5] ^= 0x20; return c; });
        link.Peer.Send("intact"u8.ToArray());
        link.DeliverToFerry();
        Assert.Equal(1, link.Ferry.AuthenticationFailures);
        Assert.Equal("intact", link.Received()[^1]);
    }

    [Theory]
    [InlineData(DtlsRole.Server)]
    [InlineData(DtlsRole.Client)]
    public void Close_notify_from_the_imported_endpoint_reaches_BouncyCastle(DtlsRole ferryRole)
    {
        using var link = new BcLink(ferryRole, CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
        link.Move();
        link.Ferry.Close();
        link.FlushFerry();
        Assert.Null(link.PeerReceive());
        Assert.Contains(((short)AlertLevel.warning, (short)AlertDescription.close_notify), link.PeerAlerts);
    }

    [Theory]
    [InlineData(DtlsRole.Server)]
    [InlineData(DtlsRole.Client)]
    public void Close_notify_from_BouncyCastle_closes_the_imported_endpoint(DtlsRole ferryRole)
    {
        using var link = new BcLink(ferryRole, CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384);
        link.Move();
        link.Peer.Close();
        link.DeliverToFerry();
        Assert.Equal(DtlsState.Closed, link.Ferry.State);
        Assert.Single(link.FerryEvents, e => e.Kind == DtlsEventKind.Closed && e.Reason is null);
    }

    [Fact]
    public void A_fatal_alert_from_BouncyCastle_closes_the_imported_endpoint_and_names_the_alert()
    {
        using var link = new BcLink(DtlsRole.Server, CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
        link.Move();
        // BouncyCastle fails its own transport on a record over 2^14 bytes, sending a fatal internal_error (80).
        Assert.ThrowsAny<Exception>(() => link.Peer.Send(new byte[20000]));
        link.DeliverToFerry();
        Assert.Equal(DtlsState.Closed, link.Ferry.State);
        var closed = Assert.Single(link.FerryEvents, e => e.Kind == DtlsEventKind.Closed);
        Assert.Equal($"fatal alert {AlertDescription.internal_error} from the peer", closed.Reason);
    }
}
