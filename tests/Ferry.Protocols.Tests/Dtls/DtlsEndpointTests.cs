using Ferry.Protocols.Dtls;
using Ferry.Protocols.Srtp;
using Ferry.Testing.Simulation;

namespace Ferry.Protocols.Tests.Dtls;

public class DtlsEndpointTests
{
    private static readonly DtlsCertificate ClientCertificate = DtlsCertificate.Generate();
    private static readonly DtlsCertificate ServerCertificate = DtlsCertificate.Generate();

    private sealed record Pair(SimNetwork Net, DtlsNode Client, DtlsNode Server) : IDisposable
    {
        public bool BothConnected => Client.Endpoint.State == DtlsState.Connected && Server.Endpoint.State == DtlsState.Connected;
        public void Dispose()
        {
            Client.Endpoint.Dispose();
            Server.Endpoint.Dispose();
        }
    }

    private static Pair Build(int seed, LinkConditions? conditions = null, IReadOnlyList<SrtpProfile>? clientProfiles = null,
        IReadOnlyList<SrtpProfile>? serverProfiles = null, DtlsFingerprintValue? clientExpects = null, DtlsFingerprintValue? serverExpects = null)
    {
        var net = new SimNetwork(seed) { DefaultConditions = conditions ?? LinkConditions.Perfect with { Latency = TimeSpan.FromMilliseconds(10) } };
        var a = SimAddress.Loopback(1, 1000);
        var b = SimAddress.Loopback(2, 2000);
        var client = new DtlsNode(new DtlsEndpoint(new DtlsContext(ClientCertificate, clientProfiles), DtlsRole.Client,
            clientExpects ?? ServerCertificate.Fingerprint("sha-256")), a, b);
        var server = new DtlsNode(new DtlsEndpoint(new DtlsContext(ServerCertificate, serverProfiles), DtlsRole.Server,
            serverExpects ?? ClientCertificate.Fingerprint("sha-256")), b, a);
        net.Attach(a, client);
        net.Attach(b, server);
        server.Start(net);
        client.Start(net);
        return new Pair(net, client, server);
    }

    [Theory]
    [InlineData(SrtpProfile.AeadAes256Gcm)]
    [InlineData(SrtpProfile.AeadAes128Gcm)]
    [InlineData(SrtpProfile.AesCm128HmacSha1_80)]
    [InlineData(SrtpProfile.AesCm128HmacSha1_32)]
    public void Client_and_server_agree_on_the_profile_and_keys_and_srtp_flows(SrtpProfile profile)
    {
        using var pair = Build(1, clientProfiles: [profile]);
        Assert.True(pair.Net.RunUntil(() => pair.BothConnected, TimeSpan.FromSeconds(5)));
        var clientKeys = pair.Client.Events.Single(e => e.Kind == DtlsEventKind.Connected).Keys!;
        var serverKeys = pair.Server.Events.Single(e => e.Kind == DtlsEventKind.Connected).Keys!;
        Assert.Equal(profile, clientKeys.Profile);
        Assert.Equal(profile, serverKeys.Profile);
        Assert.Equal(clientKeys.LocalKey, serverKeys.RemoteKey);
        Assert.Equal(clientKeys.LocalSalt, serverKeys.RemoteSalt);
        Assert.Equal(clientKeys.RemoteKey, serverKeys.LocalKey);
        Assert.NotEqual(clientKeys.LocalKey, clientKeys.RemoteKey);
        Assert.Equal(profile.MasterKeyLength(), clientKeys.LocalKey.Length);
        Assert.Equal(profile.MasterSaltLength(), clientKeys.LocalSalt.Length);

        using var send = new SrtpSession(profile, clientKeys.LocalKey, clientKeys.LocalSalt);
        using var receive = new SrtpSession(profile, serverKeys.RemoteKey, serverKeys.RemoteSalt);
        var buffer = new byte[100];
        byte[] rtp = [0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 1, 2, 3];
        rtp.CopyTo(buffer, 0);
        Assert.Equal(SrtpResult.Ok, send.ProtectRtp(buffer, rtp.Length, out var n));
        Assert.Equal(SrtpResult.Ok, receive.UnprotectRtp(buffer, n, out var m));
        Assert.Equal(rtp, buffer[..m]);

        var state = pair.Client.Endpoint.ExportState()!;
        Assert.Equal(48, state.MasterSecret.Length);
        Assert.Equal(pair.Server.Endpoint.ExportState()!.MasterSecret, state.MasterSecret);
        Assert.Equal(ServerCertificate.CertificateDer, state.RemoteCertificate);
    }

    [Fact]
    public void Mediasoups_preference_picks_aes_256_gcm_when_both_offer_everything()
    {
        using var pair = Build(2);
        Assert.True(pair.Net.RunUntil(() => pair.BothConnected, TimeSpan.FromSeconds(5)));
        Assert.Equal(SrtpProfile.AeadAes256Gcm, pair.Client.Events[0].Keys!.Profile);
    }

    [Fact]
    public void A_fingerprint_mismatch_fails_with_a_reason()
    {
        using var pair = Build(3, clientExpects: ClientCertificate.Fingerprint("sha-256"));
        pair.Net.RunFor(TimeSpan.FromSeconds(5));
        Assert.Equal(DtlsState.Failed, pair.Client.Endpoint.State);
        var failed = pair.Client.Events.Single(e => e.Kind == DtlsEventKind.Failed);
        Assert.Contains("does not match", failed.Reason);
        Assert.DoesNotContain(pair.Client.Events, e => e.Kind == DtlsEventKind.Connected);
    }

    [Fact]
    public void Any_signalled_algorithm_is_verified()
    {
        using var pair = Build(4, clientExpects: ServerCertificate.Fingerprint("sha-512"), serverExpects: ClientCertificate.Fingerprint("sha-1"));
        Assert.True(pair.Net.RunUntil(() => pair.BothConnected, TimeSpan.FromSeconds(5)));
        Assert.Equal(5, ServerCertificate.Fingerprints.Count);
        Assert.Equal("sha-256", ServerCertificate.Fingerprints[^1].Algorithm);
        Assert.Matches("^([0-9A-F]{2}:){31}[0-9A-F]{2}$", ServerCertificate.Fingerprints[^1].Value);
    }

    [Fact]
    public void No_common_srtp_profile_fails()
    {
        using var pair = Build(5, clientProfiles: [SrtpProfile.AesCm128HmacSha1_32], serverProfiles: [SrtpProfile.AeadAes256Gcm]);
        pair.Net.RunFor(TimeSpan.FromSeconds(5));
        Assert.False(pair.BothConnected);
        Assert.True(pair.Client.Endpoint.State == DtlsState.Failed || pair.Server.Endpoint.State == DtlsState.Failed);
    }

    [Fact]
    public void Without_a_common_srtp_profile_endpoints_that_do_not_require_srtp_connect_for_application_data()
    {
        // A data-channel-only peer may offer no DTLS-SRTP at all: the transport then carries SCTP without SRTP keys.
        var net = new SimNetwork(7) { DefaultConditions = LinkConditions.Perfect with { Latency = TimeSpan.FromMilliseconds(5) } };
        var a = SimAddress.Loopback(1, 1000);
        var b = SimAddress.Loopback(2, 2000);
        using var clientEndpoint = new DtlsEndpoint(new DtlsContext(ClientCertificate, [SrtpProfile.AesCm128HmacSha1_32]), DtlsRole.Client,
            ServerCertificate.Fingerprint("sha-256"), requireSrtp: false);
        using var serverEndpoint = new DtlsEndpoint(new DtlsContext(ServerCertificate, [SrtpProfile.AeadAes256Gcm]), DtlsRole.Server,
            ClientCertificate.Fingerprint("sha-256"), requireSrtp: false);
        var client = new DtlsNode(clientEndpoint, a, b);
        var server = new DtlsNode(serverEndpoint, b, a);
        net.Attach(a, client);
        net.Attach(b, server);
        server.Start(net);
        client.Start(net);
        Assert.True(net.RunUntil(() => clientEndpoint.State == DtlsState.Connected && serverEndpoint.State == DtlsState.Connected, TimeSpan.FromSeconds(5)));
        Assert.Null(client.Events.Single(e => e.Kind == DtlsEventKind.Connected).Keys);
        Assert.True(clientEndpoint.SendApplicationData("sctp"u8));
        client.Pump(net);
        Assert.True(net.RunUntil(() => server.Events.Any(e => e.Kind == DtlsEventKind.ApplicationData), TimeSpan.FromSeconds(1)));
        Assert.Equal("sctp"u8.ToArray(), server.Events.Single(e => e.Kind == DtlsEventKind.ApplicationData).Data);
    }

    [Fact]
    public void A_lost_first_flight_is_retransmitted_exactly_at_the_reported_deadline()
    {
        var dropped = 0;
        using var pair = Build(6);
        // Build already sent the ClientHello at t=0 over a perfect link; use a fresh pair with the first datagram dropped.
        var net = new SimNetwork(6) { DropFilter = _ => dropped++ == 0 };
        var a = SimAddress.Loopback(1, 1000);
        var b = SimAddress.Loopback(2, 2000);
        using var clientEndpoint = new DtlsEndpoint(new DtlsContext(ClientCertificate), DtlsRole.Client, ServerCertificate.Fingerprint("sha-256"));
        using var serverEndpoint = new DtlsEndpoint(new DtlsContext(ServerCertificate), DtlsRole.Server, ClientCertificate.Fingerprint("sha-256"));
        var client = new DtlsNode(clientEndpoint, a, b);
        var server = new DtlsNode(serverEndpoint, b, a);
        net.Attach(a, client);
        net.Attach(b, server);
        var sentAt = new List<TimeSpan>();
        net.OnDeliver = d => { if (d.From.Equals(a)) sentAt.Add(d.SentAt); };
        server.Start(net);
        client.Start(net);
        Assert.Equal(DtlsEndpoint.InitialRetransmit, clientEndpoint.NextTimeout);
        Assert.True(net.RunUntil(() => clientEndpoint.State == DtlsState.Connected && serverEndpoint.State == DtlsState.Connected, TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromSeconds(1), sentAt[0]);
        Assert.Equal(1, clientEndpoint.Retransmissions);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    [InlineData(15)]
    public void Handshakes_complete_through_loss_reordering_and_duplication_and_replay_from_the_seed(int seed)
    {
        var bad = new LinkConditions
        {
            Latency = TimeSpan.FromMilliseconds(30), Jitter = TimeSpan.FromMilliseconds(20),
            Loss = 0.25, Reorder = 0.2, Duplicate = 0.2,
        };
        (bool, ulong, TimeSpan) Run()
        {
            using var pair = Build(seed, bad);
            var ok = pair.Net.RunUntil(() => pair.BothConnected, TimeSpan.FromMinutes(3));
            return (ok && pair.Client.Events[0].Keys!.LocalKey.SequenceEqual(pair.Server.Events[0].Keys!.RemoteKey), pair.Net.TraceHash, pair.Net.Now);
        }
        var first = Run();
        Assert.True(first.Item1, $"seed {seed} did not connect");
        var again = Run();
        // The trace covers timing and sizes; DTLS randoms differ per run, so bytes are not compared.
        Assert.Equal(first.Item3, again.Item3);
    }

    [Fact]
    public void The_server_may_learn_the_fingerprint_after_the_handshake()
    {
        var net = new SimNetwork(7);
        var a = SimAddress.Loopback(1, 1000);
        var b = SimAddress.Loopback(2, 2000);
        using var c = new DtlsEndpoint(new DtlsContext(ClientCertificate), DtlsRole.Client, ServerCertificate.Fingerprint("sha-256"));
        using var s = new DtlsEndpoint(new DtlsContext(ServerCertificate), DtlsRole.Server);
        var client = new DtlsNode(c, a, b);
        var server = new DtlsNode(s, b, a);
        net.Attach(a, client);
        net.Attach(b, server);
        server.Start(net);
        client.Start(net);
        Assert.True(net.RunUntil(() => c.State == DtlsState.Connected, TimeSpan.FromSeconds(5)));
        Assert.Equal(DtlsState.Connecting, s.State);
        s.SetRemoteFingerprint(ClientCertificate.Fingerprint("sha-256"));
        server.Pump(net);
        Assert.Equal(DtlsState.Connected, s.State);
    }

    [Fact]
    public void Application_data_and_close_notify_cross_the_association()
    {
        using var pair = Build(8);
        Assert.True(pair.Net.RunUntil(() => pair.BothConnected, TimeSpan.FromSeconds(5)));
        Assert.True(pair.Client.Endpoint.SendApplicationData("sctp bytes"u8));
        pair.Client.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.Server.Events.Any(e => e.Kind == DtlsEventKind.ApplicationData), TimeSpan.FromSeconds(1)));
        Assert.Equal("sctp bytes"u8.ToArray(), pair.Server.Events.Last().Data);
        pair.Client.Endpoint.Close();
        pair.Client.Pump(pair.Net);
        Assert.True(pair.Net.RunUntil(() => pair.Server.Endpoint.State == DtlsState.Closed, TimeSpan.FromSeconds(1)));
        Assert.Contains(pair.Server.Events, e => e.Kind == DtlsEventKind.Closed);
    }

    [Fact]
    public void Garbage_before_during_and_after_the_handshake_never_throws()
    {
        using var pair = Build(9);
        var random = new Random(9);
        for (var round = 0; round < 200 && !pair.BothConnected; round++)
        {
            var junk = new byte[random.Next(1, 300)];
            random.NextBytes(junk);
            if (random.Next(2) == 0) junk[0] = 22;   // looks like a handshake record
            pair.Server.Endpoint.HandleDatagram(pair.Net.Now, junk);
            pair.Server.Pump(pair.Net);
            pair.Net.RunFor(TimeSpan.FromMilliseconds(5));
        }
        pair.Net.RunUntil(() => pair.BothConnected || pair.Server.Endpoint.State == DtlsState.Failed, TimeSpan.FromSeconds(30));
        Assert.True(pair.BothConnected || pair.Server.Events.Any(e => e.Kind == DtlsEventKind.Failed && e.Reason is { Length: > 0 }));
        for (var i = 0; i < 200; i++)
        {
            var junk = new byte[random.Next(1, 300)];
            random.NextBytes(junk);
            pair.Client.Endpoint.HandleDatagram(pair.Net.Now, junk);
            pair.Client.Pump(pair.Net);
        }
    }

    [Fact]
    public void A_thousand_handshakes_run_on_one_thread_in_virtual_time()
    {
        var net = new SimNetwork(1000) { DefaultConditions = new LinkConditions { Latency = TimeSpan.FromMilliseconds(20), Loss = 0.02 } };
        using var clientContext = new DtlsContext(ClientCertificate);
        using var serverContext = new DtlsContext(ServerCertificate);
        var pairs = new List<(DtlsNode Client, DtlsNode Server)>();
        for (var i = 0; i < 1000; i++)
        {
            var a = SimAddress.Loopback(1, 10000 + i);
            var b = SimAddress.Loopback(2, 10000 + i);
            var client = new DtlsNode(new DtlsEndpoint(clientContext, DtlsRole.Client, ServerCertificate.Fingerprint("sha-256")), a, b);
            var server = new DtlsNode(new DtlsEndpoint(serverContext, DtlsRole.Server, ClientCertificate.Fingerprint("sha-256")), b, a);
            net.Attach(a, client);
            net.Attach(b, server);
            server.Start(net);
            client.Start(net);
            pairs.Add((client, server));
        }
        var thread = Environment.CurrentManagedThreadId;
        Assert.True(net.RunUntil(() => pairs.All(p => p.Client.Endpoint.State == DtlsState.Connected && p.Server.Endpoint.State == DtlsState.Connected), TimeSpan.FromMinutes(2)));
        Assert.Equal(thread, Environment.CurrentManagedThreadId);
        foreach (var (c, s) in pairs)
        {
            c.Endpoint.Dispose();
            s.Endpoint.Dispose();
        }
    }
}
