using Ferry.Protocols.Dtls;
using Ferry.Protocols.Srtp;

namespace Ferry.Fuzz;

/// <summary>
/// DTLS 1.2 record framing and the record layer Ferry runs itself (an endpoint continued with
/// <see cref="DtlsEndpoint.Import"/>), plus the datagram handling around OpenSSL's handshake.
/// <para>
/// Input: a mode byte, then items. Mode bit 7 set: handshake mode, a fresh server endpoint over
/// OpenSSL gets each item's record as a datagram (OpenSSL parses the handshake; what is fuzzed is
/// Ferry's side of it). Bits 7 and 6 set: connected mode, a server endpoint over OpenSSL that finished
/// a handshake with a client gets each item: kind bit 0 clear, the record as a raw datagram; set, the
/// client sends it as application data and its datagrams are delivered (Ferry splits datagrams
/// into records itself there, to track the replay window for export). Bit 7 clear: an imported endpoint with the suite <c>mode % 6</c> of
/// <c>DtlsSuite.All</c> and a replay window starting at the next 16 bits; each item is a kind byte
/// then a length-prefixed record: kind bit 0 clear, the record is a raw datagram; set, it is the
/// plaintext of a record the peer seals (type, epoch, 32-bit sequence number from the next bytes),
/// so that records which authenticate reach what runs after authentication too. Kind bit 1 appends
/// to the previous datagram instead of starting one.
/// </para>
/// </summary>
internal static class DtlsTarget
{
    private static readonly byte[] MasterSecret = Filled(48, 0x11);
    private static readonly byte[] ClientRandom = Filled(32, 0x22);
    private static readonly byte[] ServerRandom = Filled(32, 0x33);
    private static readonly Lazy<DtlsContext> Context = new(() => new DtlsContext(DtlsCertificate.Generate()));

    public static void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        var mode = reader.Byte();
        if ((mode & 0xC0) == 0xC0) Connected(ref reader);
        else if ((mode & 0x80) != 0) Handshake(ref reader);
        else Imported(mode, ref reader);
    }

    private static void Imported(byte mode, ref FuzzInput reader)
    {
        var suite = DtlsSuite.All[mode % DtlsSuite.All.Count];
        var highest = (long)reader.UInt16() - 1;
        var endpoint = DtlsEndpoint.Import(State(suite, highest, writeSequence: 0));
        using var peer = new DtlsRecordProtection(suite, DtlsRole.Client, MasterSecret, ClientRandom, ServerRandom);
        var datagrams = new List<byte[]>();
        var sealedRecord = new byte[DtlsRecordProtection.MaxPlaintext + 64];
        while (!reader.IsEmpty)
        {
            var kind = reader.Byte();
            byte[] record;
            if ((kind & 1) == 0)
            {
                record = reader.Record().ToArray();
            }
            else
            {
                var type = reader.Byte();
                var epoch = reader.UInt16();
                var sequence = (long)reader.UInt32();
                var plaintext = reader.Record();
                if (plaintext.Length > DtlsRecordProtection.MaxPlaintext) plaintext = plaintext[..DtlsRecordProtection.MaxPlaintext];
                record = sealedRecord.AsSpan(0, peer.Seal(type, epoch, sequence, plaintext, sealedRecord)).ToArray();
            }
            if ((kind & 2) != 0 && datagrams.Count > 0) datagrams[^1] = [.. datagrams[^1], .. record];
            else datagrams.Add(record);
        }
        var now = TimeSpan.FromSeconds(1);
        foreach (var datagram in datagrams)
        {
            endpoint.HandleDatagram(now, datagram);
            Drain(endpoint);
            now += TimeSpan.FromMilliseconds(10);
        }
        endpoint.SendApplicationData([1, 2, 3]);
        endpoint.HandleTimeout(now + TimeSpan.FromSeconds(70));
        Drain(endpoint);
        // What a move does next: export, then continue elsewhere. The exported state must import.
        if (endpoint.ExportState() is { } exported)
        {
            using var continued = DtlsEndpoint.Import(exported);
            if (continued.State != DtlsState.Connected) throw new FuzzInvariantException("a re-imported endpoint is not connected");
        }
        _ = endpoint.DroppedRecords + endpoint.AuthenticationFailures + endpoint.ReplayedRecords + endpoint.IgnoredHandshakeRecords;
        endpoint.Close();
        endpoint.Dispose();
    }

    private static void Handshake(ref FuzzInput reader)
    {
        using var endpoint = new DtlsEndpoint(Context.Value, DtlsRole.Server);
        var now = TimeSpan.FromSeconds(1);
        endpoint.Start(now);
        while (!reader.IsEmpty)
        {
            reader.Byte();
            endpoint.HandleDatagram(now, reader.Record());
            Drain(endpoint);
            now += TimeSpan.FromMilliseconds(10);
        }
        endpoint.HandleTimeout(now + TimeSpan.FromSeconds(2));
        Drain(endpoint);
        endpoint.Close();
    }

    private static void Connected(ref FuzzInput reader)
    {
        var fingerprint = Context.Value.Certificate.Fingerprint("sha-256");
        using var client = new DtlsEndpoint(Context.Value, DtlsRole.Client, fingerprint, requireSrtp: false);
        using var server = new DtlsEndpoint(Context.Value, DtlsRole.Server, fingerprint, requireSrtp: false);
        var now = TimeSpan.FromSeconds(1);
        client.Start(now);
        server.Start(now);
        for (var round = 0; round < 6 && (client.State != DtlsState.Connected || server.State != DtlsState.Connected); round++)
        {
            while (client.TryPollDatagram(out var d)) server.HandleDatagram(now, d);
            while (server.TryPollDatagram(out var d)) client.HandleDatagram(now, d);
        }
        if (server.State != DtlsState.Connected) throw new InvalidOperationException("the fuzz handshake did not complete");
        Drain(client);
        Drain(server);
        while (!reader.IsEmpty)
        {
            var kind = reader.Byte();
            var record = reader.Record();
            now += TimeSpan.FromMilliseconds(10);
            if ((kind & 1) == 0)
            {
                server.HandleDatagram(now, record);
            }
            else
            {
                client.SendApplicationData(record);
                while (client.TryPollDatagram(out var d)) server.HandleDatagram(now, d);
            }
            while (server.TryPollDatagram(out var d)) client.HandleDatagram(now, d);
            Drain(client);
            Drain(server);
        }
        // A move after whatever arrived: the export must import.
        if (server.ExportState() is { } exported)
        {
            using var continued = DtlsEndpoint.Import(exported);
            if (continued.State != DtlsState.Connected) throw new FuzzInvariantException("a re-imported endpoint is not connected");
        }
    }

    private static void Drain(DtlsEndpoint endpoint)
    {
        while (endpoint.TryPollDatagram(out _)) { }
        while (endpoint.TryPollEvent(out _)) { }
    }

    /// <summary>The state an exported server endpoint would carry: fixed secrets, epoch 1.</summary>
    internal static DtlsSessionState State(DtlsSuite suite, long readHighest, long writeSequence) => new()
    {
        Role = DtlsRole.Server,
        CipherSuite = suite.OpenSslName,
        MasterSecret = MasterSecret,
        ClientRandom = ClientRandom,
        ServerRandom = ServerRandom,
        Srtp = new SrtpKeyingMaterial
        {
            Profile = SrtpProfile.AeadAes128Gcm,
            LocalKey = Filled(16, 0x44), LocalSalt = Filled(12, 0x55),
            RemoteKey = Filled(16, 0x66), RemoteSalt = Filled(12, 0x77),
        },
        RemoteCertificate = Filled(64, 0x30),
        ReadEpoch = 1,
        ReadSequenceHighest = readHighest,
        ReadReplayBitmap = readHighest >= 0 ? 1UL : 0,
        WriteEpoch = 1,
        WriteSequence = writeSequence,
    };

    private static byte[] Filled(int length, byte value)
    {
        var bytes = new byte[length];
        Array.Fill(bytes, value);
        return bytes;
    }
}
