using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Ferry.Protocols.Dtls;
using Ferry.Protocols.Dtls.Native;

namespace Ferry.Protocols.Tests.Dtls;

/// <summary>
/// Moves of a DTLS association onto Ferry's own record layer (<see cref="DtlsEndpoint.Import"/>)
/// against an OpenSSL peer: a DtlsEndpoint that never moves, so every record Ferry seals is opened by
/// OpenSSL and every record OpenSSL seals is opened by Ferry.
/// </summary>
public class DtlsImportTests
{
    private static readonly DtlsCertificate FerryCertificate = DtlsCertificate.Generate();
    private static readonly DtlsCertificate PeerCertificate = DtlsCertificate.Generate();

    public static TheoryData<string, DtlsRole> SuitesAndRoles()
    {
        var data = new TheoryData<string, DtlsRole>();
        foreach (var suite in new[] { "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305" })
        foreach (var role in new[] { DtlsRole.Client, DtlsRole.Server })
            data.Add(suite, role);
        return data;
    }

    /// <summary>The moving Ferry endpoint and its OpenSSL peer, joined by a loss-free wire that logs every datagram.</summary>
    internal sealed class Link : IDisposable
    {
        public DtlsEndpoint Ferry;
        public readonly DtlsEndpoint Peer;
        public readonly List<byte[]> FerryToPeer = [];
        public readonly List<byte[]> PeerToFerry = [];
        public readonly List<DtlsEvent> FerryEvents = [];
        public readonly List<DtlsEvent> PeerEvents = [];
        private readonly DtlsContext _ferryContext, _peerContext;

        public Link(DtlsRole ferryRole, string? peerSuites = null, DtlsCertificate? ferryCertificate = null, DtlsCertificate? peerCertificate = null)
        {
            var ferryCert = ferryCertificate ?? FerryCertificate;
            var peerCert = peerCertificate ?? PeerCertificate;
            _ferryContext = new DtlsContext(ferryCert);
            _peerContext = new DtlsContext(peerCert);
            // The peer picks or offers just this suite; our context keeps its full list.
            if (peerSuites is not null) Assert.Equal(1, LibSsl.SSL_CTX_set_cipher_list(_peerContext.Handle, peerSuites));
            var peerRole = ferryRole == DtlsRole.Client ? DtlsRole.Server : DtlsRole.Client;
            Ferry = new DtlsEndpoint(_ferryContext, ferryRole, peerCert.Fingerprint("sha-256"));
            Peer = new DtlsEndpoint(_peerContext, peerRole, ferryCert.Fingerprint("sha-256"));
            Peer.Start(TimeSpan.Zero);
            Ferry.Start(TimeSpan.Zero);
            Settle();
            Assert.Equal(DtlsState.Connected, Ferry.State);
            Assert.Equal(DtlsState.Connected, Peer.State);
        }

        /// <summary>Carries datagrams both ways until both sides are quiet; <paramref name="toFerry"/> may rewrite or drop (null) what reaches Ferry.</summary>
        public void Settle(Func<byte[], byte[]?>? toFerry = null)
        {
            for (var moved = true; moved;)
            {
                moved = false;
                while (Ferry.TryPollDatagram(out var d))
                {
                    FerryToPeer.Add(d);
                    Peer.HandleDatagram(TimeSpan.Zero, d);
                    moved = true;
                }
                while (Peer.TryPollDatagram(out var d))
                {
                    PeerToFerry.Add(d);
                    var delivered = toFerry is null ? d : toFerry(d);
                    if (delivered is not null) Ferry.HandleDatagram(TimeSpan.Zero, delivered);
                    moved = true;
                }
                while (Ferry.TryPollEvent(out var e)) FerryEvents.Add(e);
                while (Peer.TryPollEvent(out var e)) PeerEvents.Add(e);
            }
        }

        /// <summary>Exports Ferry's side, checks the state survives JSON, and continues it in a fresh imported endpoint.</summary>
        public DtlsSessionState Move()
        {
            var state = Ferry.ExportState()!;
            Assert.NotNull(state);
            Assert.False(Ferry.SendApplicationData("after export"u8));
            Assert.False(Ferry.TryPollDatagram(out _));
            var back = JsonSerializer.Deserialize<DtlsSessionState>(JsonSerializer.Serialize(state))!;
            AssertSameState(state, back);
            Ferry.Dispose();
            Ferry = DtlsEndpoint.Import(back);
            Assert.Equal(DtlsState.Connected, Ferry.State);
            Assert.True(Ferry.IsImported);
            return state;
        }

        public List<string> Received(List<DtlsEvent> events) =>
            events.Where(e => e.Kind == DtlsEventKind.ApplicationData).Select(e => Encoding.UTF8.GetString(e.Data!)).ToList();

        public void Dispose()
        {
            Ferry.Dispose();
            Peer.Dispose();
            _ferryContext.Dispose();
            _peerContext.Dispose();
        }
    }

    internal static void AssertSameState(DtlsSessionState expected, DtlsSessionState actual)
    {
        Assert.Equal(expected.Role, actual.Role);
        Assert.Equal(expected.CipherSuite, actual.CipherSuite);
        Assert.Equal(expected.MasterSecret, actual.MasterSecret);
        Assert.Equal(expected.ClientRandom, actual.ClientRandom);
        Assert.Equal(expected.ServerRandom, actual.ServerRandom);
        Assert.Equal(expected.RemoteCertificate, actual.RemoteCertificate);
        Assert.Equal(expected.Srtp.Profile, actual.Srtp.Profile);
        Assert.Equal(expected.Srtp.LocalKey, actual.Srtp.LocalKey);
        Assert.Equal(expected.Srtp.LocalSalt, actual.Srtp.LocalSalt);
        Assert.Equal(expected.Srtp.RemoteKey, actual.Srtp.RemoteKey);
        Assert.Equal(expected.Srtp.RemoteSalt, actual.Srtp.RemoteSalt);
        Assert.Equal(expected.ReadEpoch, actual.ReadEpoch);
        Assert.Equal(expected.ReadSequenceHighest, actual.ReadSequenceHighest);
        Assert.Equal(expected.ReadReplayBitmap, actual.ReadReplayBitmap);
        Assert.Equal(expected.WriteEpoch, actual.WriteEpoch);
        Assert.Equal(expected.WriteSequence, actual.WriteSequence);
    }

    /// <summary>(epoch, sequence) of every record in these datagrams.</summary>
    internal static List<(int Epoch, long Sequence, byte Type)> Records(IEnumerable<byte[]> datagrams)
    {
        var records = new List<(int, long, byte)>();
        foreach (var d in datagrams)
            for (var offset = 0; offset + 13 <= d.Length; offset += 13 + BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(offset + 11)))
                records.Add((BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(offset + 3)),
                    (long)(BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(offset + 3)) & 0xFFFF_FFFF_FFFF), d[offset]));
        return records;
    }

    /// <summary>Asserts the epoch-1 sequence numbers are 0, 1, 2, … with no gap or repeat.</summary>
    internal static void AssertContinuous(IEnumerable<byte[]> datagrams)
    {
        var sequences = Records(datagrams).Where(r => r.Epoch == 1).Select(r => r.Sequence).ToList();
        Assert.Equal(Enumerable.Range(0, sequences.Count).Select(i => (long)i), sequences);
    }

    [Theory]
    [MemberData(nameof(SuitesAndRoles))]
    public void Data_flows_both_ways_across_three_moves_with_continuous_sequence_numbers(string suite, DtlsRole ferryRole)
    {
        using var link = new Link(ferryRole, suite);
        MoveThreeTimes(link, suite);
    }

    private static readonly Lazy<DtlsCertificate> RsaCertificate = new(() =>
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=ferry-rsa", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
        var directory = Directory.CreateTempSubdirectory("ferry-rsa");
        try
        {
            var certificateFile = Path.Combine(directory.FullName, "cert.pem");
            var keyFile = Path.Combine(directory.FullName, "key.pem");
            File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
            File.WriteAllText(keyFile, rsa.ExportPkcs8PrivateKeyPem());
            return DtlsCertificate.LoadPem(certificateFile, keyFile);
        }
        finally
        {
            directory.Delete(true);
        }
    });

    [Theory]
    [InlineData("ECDHE-RSA-AES128-GCM-SHA256", DtlsRole.Server)]
    [InlineData("ECDHE-RSA-AES256-GCM-SHA384", DtlsRole.Client)]
    [InlineData("ECDHE-RSA-CHACHA20-POLY1305", DtlsRole.Server)]
    public void Rsa_certificates_move_the_same_way(string suite, DtlsRole ferryRole)
    {
        // ECDHE-RSA is what a server loading an RSA certificate (DtlsCertificate.LoadPem) negotiates.
        using var link = new Link(ferryRole, suite, RsaCertificate.Value, RsaCertificate.Value);
        MoveThreeTimes(link, suite);
    }

    private static void MoveThreeTimes(Link link, string suite)
    {
        var fromFerry = new List<string>();
        var fromPeer = new List<string>();
        void Exchange(string tag, int count)
        {
            for (var i = 0; i < count; i++)
            {
                var f = $"ferry {tag} {i}";
                var p = $"peer {tag} {i}";
                Assert.True(link.Ferry.SendApplicationData(Encoding.UTF8.GetBytes(f)));
                Assert.True(link.Peer.SendApplicationData(Encoding.UTF8.GetBytes(p)));
                fromFerry.Add(f);
                fromPeer.Add(p);
            }
            link.Settle();
        }
        Exchange("before", 3);
        for (var move = 1; move <= 3; move++)
        {
            var sentBefore = Records(link.FerryToPeer).Where(r => r.Epoch == 1).Max(r => r.Sequence);
            var receivedBefore = Records(link.PeerToFerry).Where(r => r.Epoch == 1 && r.Type == 23).Max(r => r.Sequence);
            var state = link.Move();
            Assert.Equal(suite, state.CipherSuite);
            Assert.Equal(1, state.WriteEpoch);
            Assert.Equal(sentBefore + 1, state.WriteSequence);
            Assert.Equal(1, state.ReadEpoch);
            Assert.Equal(receivedBefore, state.ReadSequenceHighest);
            Exchange($"after move {move}", 5);
        }
        Assert.Equal(fromPeer, link.Received(link.FerryEvents));
        Assert.Equal(fromFerry, link.Received(link.PeerEvents));
        AssertContinuous(link.FerryToPeer);
        AssertContinuous(link.PeerToFerry);
        Assert.Equal(0, link.Ferry.DroppedRecords);
        Assert.DoesNotContain(link.FerryEvents, e => e.Kind is DtlsEventKind.Closed or DtlsEventKind.Failed);
        Assert.DoesNotContain(link.PeerEvents, e => e.Kind is DtlsEventKind.Closed or DtlsEventKind.Failed);
    }

    [Fact]
    public void The_srtp_keys_and_remote_certificate_travel_with_the_move()
    {
        using var link = new Link(DtlsRole.Server);
        var keys = link.FerryEvents.Single(e => e.Kind == DtlsEventKind.Connected).Keys!;
        var state = link.Move();
        Assert.Same(keys, state.Srtp);
        Assert.Equal(PeerCertificate.CertificateDer, link.Ferry.RemoteCertificate);
        Assert.Equal(DtlsRole.Server, link.Ferry.Role);
        var again = link.Ferry.ExportState()!;
        Assert.Equal(keys.LocalKey, again.Srtp.LocalKey);
        Assert.Equal(state.MasterSecret, again.MasterSecret);
    }

    [Fact]
    public void Close_notify_from_the_imported_endpoint_closes_the_openssl_peer()
    {
        using var link = new Link(DtlsRole.Client);
        link.Move();
        link.Ferry.Close();
        Assert.Equal(DtlsState.Closed, link.Ferry.State);
        link.Settle();
        Assert.Equal(DtlsState.Closed, link.Peer.State);
        Assert.Contains(link.PeerEvents, e => e.Kind == DtlsEventKind.Closed && e.Reason is null);
        Assert.False(link.Ferry.SendApplicationData("late"u8));
    }

    [Fact]
    public void Close_notify_from_the_openssl_peer_closes_the_imported_endpoint()
    {
        using var link = new Link(DtlsRole.Server);
        link.Move();
        link.Peer.Close();
        link.Settle();
        Assert.Equal(DtlsState.Closed, link.Ferry.State);
        Assert.Single(link.FerryEvents, e => e.Kind == DtlsEventKind.Closed && e.Reason is null);
        Assert.Equal(0, link.Ferry.DroppedRecords);
    }

    [Fact]
    public void A_fatal_alert_from_the_openssl_peer_closes_the_imported_endpoint_and_names_the_alert()
    {
        using var link = new Link(DtlsRole.Client);
        link.Move();
        // A well-protected record of a content type that does not exist: OpenSSL answers with a fatal unexpected_message (10).
        Assert.True(link.Ferry.SendOwn((DtlsContentType)25, "?"u8));
        link.Settle();
        Assert.Equal(DtlsState.Closed, link.Ferry.State);
        var closed = Assert.Single(link.FerryEvents, e => e.Kind == DtlsEventKind.Closed);
        Assert.Equal("fatal alert 10 from the peer", closed.Reason);
        var alert = Records(link.PeerToFerry).Last();
        Assert.Equal((byte)21, alert.Type);
        Assert.Equal(1, alert.Epoch);
    }

    [Fact]
    public void A_tampered_record_is_dropped_and_counted_and_the_good_ones_after_it_arrive()
    {
        using var link = new Link(DtlsRole.Server);
        link.Move();
        var tampers = new Func<byte[], byte[]>[]
        {
            d => Flip(d, d.Length - 1),   // tag
            d => Flip(d, 13 + 8 + 1),     // ciphertext (after GCM's explicit nonce)
            d => Flip(d, 13 + 2),         // explicit nonce
            d => Flip(d, 10),             // header: sequence number (additional data)
            d => Flip(d, 0, 23 ^ 21),     // header: content type 23 -> alert
            d => Flip(d, 2),              // header: version
            d => Flip(d, 4),              // header: epoch
        };
        var received = 0;
        foreach (var tamper in tampers)
        {
            Assert.True(link.Peer.SendApplicationData("precious"u8));
            link.Settle(d => tamper(d));
            Assert.Empty(link.Received(link.FerryEvents).Skip(received));
            // The original, untouched, still arrives: a forged copy must not move the replay window.
            link.Ferry.HandleDatagram(TimeSpan.Zero, link.PeerToFerry[^1]);
            link.Settle();
            Assert.Equal("precious", Assert.Single(link.Received(link.FerryEvents).Skip(received)));
            received++;
        }
        Assert.Equal(DtlsState.Connected, link.Ferry.State);
        Assert.Equal(5, link.Ferry.AuthenticationFailures);   // version and epoch are refused before decryption
        Assert.Equal(7, link.Ferry.DroppedRecords);
        Assert.True(link.Ferry.SendApplicationData("still talking"u8));
        link.Settle();
        Assert.Equal("still talking", link.Received(link.PeerEvents).Last());
    }

    private static byte[] Flip(byte[] datagram, int index, int mask = 0x01)
    {
        var copy = (byte[])datagram.Clone();
        copy[index] ^= (byte)mask;
        return copy;
    }

    [Fact]
    public void Replays_are_dropped_also_of_records_received_before_the_move()
    {
        using var link = new Link(DtlsRole.Client);
        for (var i = 0; i < 3; i++) Assert.True(link.Peer.SendApplicationData(Encoding.UTF8.GetBytes($"old {i}")));
        link.Settle();
        var old = link.PeerToFerry.TakeLast(3).ToList();
        link.Move();
        foreach (var d in old) link.Ferry.HandleDatagram(TimeSpan.Zero, d);
        Assert.Equal(3, link.Ferry.ReplayedRecords);
        Assert.True(link.Peer.SendApplicationData("new"u8));
        link.Settle();
        link.Ferry.HandleDatagram(TimeSpan.Zero, link.PeerToFerry[^1]);
        Assert.Equal(4, link.Ferry.ReplayedRecords);
        Assert.Equal(4, link.Ferry.DroppedRecords);
        Assert.Equal(["old 0", "old 1", "old 2", "new"], link.Received(link.FerryEvents));
        // The window moves again: the replay is remembered after a second move.
        link.Move();
        link.Ferry.HandleDatagram(TimeSpan.Zero, link.PeerToFerry[^1]);
        Assert.Equal(1, link.Ferry.ReplayedRecords);
    }

    [Fact]
    public void Reordered_records_within_the_window_are_accepted_once_each()
    {
        using var link = new Link(DtlsRole.Server);
        link.Move();
        var held = new List<byte[]>();
        for (var i = 0; i < 10; i++) Assert.True(link.Peer.SendApplicationData(Encoding.UTF8.GetBytes($"m{i}")));
        link.Settle(d => { held.Add(d); return null; });
        held.Reverse();
        foreach (var d in held.Concat(held)) link.Ferry.HandleDatagram(TimeSpan.Zero, d);
        link.Settle();
        Assert.Equal(Enumerable.Range(0, 10).Reverse().Select(i => $"m{i}"), link.Received(link.FerryEvents));
        Assert.Equal(10, link.Ferry.ReplayedRecords);
    }

    [Fact]
    public void The_peers_retransmitted_handshake_flight_after_the_move_is_ignored_not_answered()
    {
        using var link = new Link(DtlsRole.Server);
        // The client's last flight (certificate … Finished), as it would retransmit it had our Finished been lost.
        var flight = link.PeerToFerry.Where(d => d[0] == 22).ToList();
        link.Move();
        foreach (var d in flight) link.Ferry.HandleDatagram(TimeSpan.Zero, d);
        Assert.False(link.Ferry.TryPollDatagram(out _));
        Assert.True(link.Ferry.IgnoredHandshakeRecords > 0);
        Assert.Equal(DtlsState.Connected, link.Ferry.State);
        Assert.True(link.Ferry.SendApplicationData("fine"u8));
        link.Settle();
        Assert.Equal("fine", link.Received(link.PeerEvents).Single());
    }

    [Fact]
    public void Random_truncated_and_mangled_datagrams_into_an_imported_endpoint_never_throw()
    {
        using var link = new Link(DtlsRole.Client);
        for (var i = 0; i < 20; i++) Assert.True(link.Peer.SendApplicationData(Encoding.UTF8.GetBytes($"sample {i}")));
        link.Settle();
        var samples = link.PeerToFerry.TakeLast(20).ToList();
        link.Move();
        var random = new Random(13);
        for (var i = 0; i < 5000; i++)
        {
            byte[] junk;
            switch (i % 4)
            {
                case 0:
                    junk = new byte[random.Next(0, 200)];
                    random.NextBytes(junk);
                    break;
                case 1:
                    var sample = samples[random.Next(samples.Count)];
                    junk = sample[..random.Next(0, sample.Length)];
                    break;
                case 2:
                    junk = (byte[])samples[random.Next(samples.Count)].Clone();
                    for (var k = random.Next(1, 4); k > 0; k--) junk[random.Next(junk.Length)] = (byte)random.Next(256);
                    break;
                default:
                    // A plausible header (application data, DTLS 1.2, epoch 1, a fresh sequence) over random bytes and any length.
                    junk = new byte[random.Next(13, 120)];
                    random.NextBytes(junk);
                    junk[0] = 23; junk[1] = 0xFE; junk[2] = 0xFD; junk[3] = 0; junk[4] = 1;
                    junk[5] = 0x10;
                    break;
            }
            link.Ferry.HandleDatagram(TimeSpan.Zero, junk);
        }
        Assert.Equal(DtlsState.Connected, link.Ferry.State);
        Assert.False(link.Ferry.TryPollDatagram(out _));
        Assert.True(link.Ferry.DroppedRecords > 1000);
        Assert.True(link.Peer.SendApplicationData("after the storm"u8));
        Assert.True(link.Ferry.SendApplicationData("still here"u8));
        link.Settle();
        Assert.Equal("after the storm", link.Received(link.FerryEvents).Last());
        Assert.Equal("still here", link.Received(link.PeerEvents).Last());
    }

    [Fact]
    public void The_exporting_endpoint_is_frozen_it_sends_and_accepts_nothing()
    {
        using var link = new Link(DtlsRole.Client);
        var state = link.Ferry.ExportState()!;
        Assert.True(link.Peer.SendApplicationData("to the old one"u8));
        Assert.True(link.Peer.TryPollDatagram(out var d));
        link.Ferry.HandleDatagram(TimeSpan.Zero, d);
        link.Ferry.HandleTimeout(TimeSpan.FromHours(1));
        Assert.False(link.Ferry.SendApplicationData("no"u8));
        link.Ferry.Close();
        Assert.False(link.Ferry.TryPollDatagram(out _));
        Assert.DoesNotContain(link.FerryEvents, e => e.Kind == DtlsEventKind.ApplicationData);
        // Nothing received after the export moved the state: exporting again gives the same.
        AssertSameState(state, link.Ferry.ExportState() ?? state);
    }

    [Fact]
    public void Export_is_null_before_connecting_and_import_refuses_suites_it_does_not_run()
    {
        using var context = new DtlsContext(FerryCertificate);
        using var fresh = new DtlsEndpoint(context, DtlsRole.Client);
        Assert.Null(fresh.ExportState());
        using var link = new Link(DtlsRole.Client);
        var state = link.Ferry.ExportState()!;
        Assert.Throws<NotSupportedException>(() => DtlsEndpoint.Import(state with { CipherSuite = "ECDHE-ECDSA-AES128-SHA256" }));
        Assert.Throws<ArgumentException>(() => DtlsEndpoint.Import(state with { MasterSecret = new byte[47] }));
        Assert.Throws<ArgumentException>(() => DtlsEndpoint.Import(state with { WriteSequence = 1L << 49 }));
    }

    [Fact]
    public void A_suite_outside_ferrys_list_is_never_negotiated()
    {
        // The peer offers only a CBC suite, which Ferry's context no longer carries: the handshake fails.
        using var ferryContext = new DtlsContext(FerryCertificate);
        using var peerContext = new DtlsContext(PeerCertificate);
        Assert.Equal(1, LibSsl.SSL_CTX_set_cipher_list(peerContext.Handle, "ECDHE-ECDSA-AES128-SHA"));
        using var ferry = new DtlsEndpoint(ferryContext, DtlsRole.Server, PeerCertificate.Fingerprint("sha-256"));
        using var peer = new DtlsEndpoint(peerContext, DtlsRole.Client, FerryCertificate.Fingerprint("sha-256"));
        peer.Start(TimeSpan.Zero);
        for (var round = 0; round < 10; round++)
        {
            while (peer.TryPollDatagram(out var d)) ferry.HandleDatagram(TimeSpan.Zero, d);
            while (ferry.TryPollDatagram(out var d)) peer.HandleDatagram(TimeSpan.Zero, d);
        }
        Assert.NotEqual(DtlsState.Connected, ferry.State);
        Assert.Equal(DtlsState.Failed, ferry.State);
    }
}
