using Ferry.Protocols.Sctp;

namespace Ferry.Fuzz;

/// <summary>
/// SCTP over DTLS (RFC 8261) with data channels (RFC 8832): the common header, every chunk the
/// association reads, and DCEP on top. Input: a flag byte, then length-prefixed packets fed to the
/// server end of an association.
/// <para>
/// Flags: bit 0, the CRC-32C is recomputed (else a mutated packet is only a counted checksum error);
/// bit 1, ports and verification tag are set to the association's (else only the tag rules run);
/// bit 2, the association is new, waiting for an INIT (else established, with two channels open and
/// data of its own outstanding); bit 3, timers run between packets. What the server sends is
/// answered by its peer, so that exchanges go on (retransmissions, SACKs, stream resets).
/// </para>
/// </summary>
internal static class SctpTarget
{
    public const byte FixChecksum = 1, FixTag = 2, Fresh = 4, Timers = 8;

    public static void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        var flags = reader.Byte();
        var now = TimeSpan.FromSeconds(10);
        DataChannelEndpoint? client = null;
        DataChannelEndpoint server;
        if ((flags & Fresh) != 0) server = new DataChannelEndpoint(new SctpAssociation(Options(2)), dtlsClient: false);
        else (client, server) = Connect(now);

        var buffer = new byte[65536 + 64];
        while (!reader.IsEmpty)
        {
            var packet = reader.Record();
            packet.CopyTo(buffer);
            var length = packet.Length;
            if ((flags & FixTag) != 0 && length >= SctpPacket.HeaderSize)
            {
                // Ports 5000 both ways; the tag the server expects (an INIT carries 0, which the fuzzer keeps by clearing bit 1).
                buffer[0] = buffer[2] = 0x13;
                buffer[1] = buffer[3] = 0x88;
                var tag = server.Association.LocalVerificationTag;
                buffer[4] = (byte)(tag >> 24);
                buffer[5] = (byte)(tag >> 16);
                buffer[6] = (byte)(tag >> 8);
                buffer[7] = (byte)tag;
            }
            if ((flags & FixChecksum) != 0 && length >= SctpPacket.HeaderSize) SctpPacket.WriteChecksum(buffer.AsSpan(0, length));
            server.HandlePacket(now, buffer.AsSpan(0, length));
            Drain(server, client, now);
            now += TimeSpan.FromMilliseconds(20);
            if ((flags & Timers) != 0)
            {
                now += server.Association.NextTimeout == TimeSpan.MaxValue ? TimeSpan.Zero : TimeSpan.FromSeconds(1);
                server.HandleTimeout(now);
                Drain(server, client, now);
            }
        }
        now += TimeSpan.FromSeconds(61);
        server.HandleTimeout(now);
        Drain(server, client, now);
        _ = server.Association.Counters;

        // A move exports an established association and imports it elsewhere: that must work from any state it reached.
        if (server.Association.State == SctpState.Established && !server.Association.IsFinished)
        {
            var state = server.Export(now);
            using var continued = DataChannelEndpoint.Import(state, now);
            continued.HandleTimeout(now + TimeSpan.FromSeconds(1));
        }
        server.Dispose();
        client?.Dispose();
    }

    internal static SctpOptions Options(int seed) => new() { Random = new Random(seed) };

    /// <summary>A client and a server, associated, with a reliable and an unreliable channel open and a message from the server not yet acknowledged.</summary>
    internal static (DataChannelEndpoint Client, DataChannelEndpoint Server) Connect(TimeSpan now)
    {
        var client = new DataChannelEndpoint(new SctpAssociation(Options(1)), dtlsClient: true);
        var server = new DataChannelEndpoint(new SctpAssociation(Options(2)), dtlsClient: false);
        client.Association.Connect(now);
        for (var round = 0; round < 8 && (client.Association.State != SctpState.Established || server.Association.State != SctpState.Established); round++)
        {
            Pump(client, server, now);
            Pump(server, client, now);
        }
        if (server.Association.State != SctpState.Established) throw new InvalidOperationException("the fuzz association did not establish");
        client.OpenChannel(now, new DataChannelOptions { Label = "chat" });
        client.OpenChannel(now, new DataChannelOptions { Label = "lossy", Ordered = false, MaxRetransmits = 0 });
        Pump(client, server, now);
        Pump(server, client, now);
        Pump(client, server, now);
        Discard(client);
        Discard(server);
        // Outstanding data of the server's own, so that SACKs and FORWARD-TSNs have something to act on.
        server.Send(now, 0, "hello"u8, isString: true);
        server.Send(now, 2, new byte[3000], isString: false);
        return (client, server);
    }

    /// <summary>Moves every packet <paramref name="from"/> has to send into <paramref name="to"/>.</summary>
    internal static void Pump(DataChannelEndpoint from, DataChannelEndpoint to, TimeSpan now)
    {
        var buffer = new byte[1500];
        int n;
        while ((n = from.PollPacket(buffer, now)) > 0) to.HandlePacket(now, buffer.AsSpan(0, n));
    }

    private static void Drain(DataChannelEndpoint server, DataChannelEndpoint? client, TimeSpan now)
    {
        if (client is null)
        {
            var buffer = new byte[1500];
            while (server.PollPacket(buffer, now) > 0) { }
        }
        else
        {
            Pump(server, client, now);
            Pump(client, server, now);
            Discard(client);
        }
        Discard(server);
    }

    private static void Discard(DataChannelEndpoint endpoint)
    {
        while (endpoint.TryPollMessage(out var message))
        {
            _ = message.Data.Length;
            message.Release();
        }
        while (endpoint.TryPollEvent(out _)) { }
    }
}
