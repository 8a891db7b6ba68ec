using System.Buffers.Binary;
using System.Text;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Dtls;
using Ferry.Protocols.Net;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Protocols.Sctp;
using Ferry.Protocols.Srtp;
using Ferry.Protocols.Stun;

namespace Ferry.Fuzz;

/// <summary>
/// The seed corpora: a few small valid inputs per target, made with Ferry's own writers (so they
/// follow the code's idea of the format) and, for STUN, RFC 5769's sample messages. Written once
/// into fuzz/corpus by <c>Ferry.Fuzz --seeds fuzz/corpus</c> and committed; rerunning rewrites the
/// same bytes except the DTLS handshake flight, whose randoms and keys OpenSSL draws afresh.
/// </summary>
internal static class Seeds
{
    public static int Write(string root)
    {
        var count = 0;
        foreach (var (target, name, bytes) in All())
        {
            var folder = Path.Combine(root, target);
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, name), bytes);
            count++;
        }
        return count;
    }

    private static IEnumerable<(string Target, string Name, byte[] Bytes)> All()
    {
        foreach (var (n, b) in Stun()) yield return ("stun", n, b);
        foreach (var (n, b) in Rtp()) yield return ("rtp", n, b);
        foreach (var (n, b) in Rtcp()) yield return ("rtcp", n, b);
        foreach (var (n, b) in Dtls()) yield return ("dtls", n, b);
        foreach (var (n, b) in Sctp()) yield return ("sctp", n, b);
        foreach (var (n, b) in Dcep()) yield return ("dcep", n, b);
        foreach (var (n, b) in Srtp()) yield return ("srtp", n, b);
        foreach (var (n, b) in Vp8()) yield return ("vp8", n, b);
        foreach (var (n, b) in Vp9()) yield return ("vp9", n, b);
        foreach (var (n, b) in H264()) yield return ("h264", n, b);
        foreach (var (n, b) in H265()) yield return ("h265", n, b);
        foreach (var (n, b) in Av1()) yield return ("av1", n, b);
        foreach (var (n, b) in Opus()) yield return ("opus", n, b);
        foreach (var (n, b) in Rfc4571()) yield return ("rfc4571", n, b);
        foreach (var (n, b) in RelayFrames()) yield return ("relayframe", n, b);
        foreach (var (n, b) in Protoo()) yield return ("protoo", n, b);
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    /// <summary>Length-prefixed records after a leading byte, as the multi-packet targets read them.</summary>
    private static byte[] Records(byte first, params byte[][] records)
    {
        var bytes = new List<byte> { first };
        foreach (var r in records)
        {
            bytes.Add((byte)(r.Length >> 8));
            bytes.Add((byte)r.Length);
            bytes.AddRange(r);
        }
        return [.. bytes];
    }

    private static IEnumerable<(string, byte[])> Stun()
    {
        // RFC 5769 §2.1-2.4, byte for byte.
        yield return ("rfc5769-request", Hex("000100582112a442b7e7a701bc34d686fa87dfae 80220010 5354554e207465737420636c69656e74 00240004 6e0001ff 80290008 932ff9b151263b36 00060009 6576746a3a68367659202020 00080014 9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2 80280004 e57a3bcf"));
        yield return ("rfc5769-response-ipv4", Hex("0101003c2112a442b7e7a701bc34d686fa87dfae 8022000b 7465737420766563746f7220 00200008 0001a147e112a643 00080014 2b91f599fd9e90c38c7489f92af9ba53f06be7d7 80280004 c07d4c96"));
        yield return ("rfc5769-response-ipv6", Hex("010100482112a442b7e7a701bc34d686fa87dfae 8022000b 7465737420766563746f7220 00200014 0002a1470113a9faa5d3f179bc25f4b5bed2b9d9 00080014 a382954e4be67bf11784c97c8292c275bfe3ed41 80280004 c8fb0b4c"));
        yield return ("rfc5769-long-term", Hex("000100602112a44278ad3433c6ad72c029da412e 00060012 e3839ee38388e383aae38383e382afe382b90000 0015001c 662f2f3439396b39353464364f4c33346f4c39465354767936347341 0014000b 6578616d706c652e6f726700 00080014 f67024656dd64a3e02b8e0712e85c9a28ca89666"));
        var key = Encoding.UTF8.GetBytes(StunTarget.Password);
        yield return ("binding-use-candidate", Binding(key, (ref StunWriter w) =>
        {
            w.AddUInt32(StunAttributeType.Priority, 0x6E0001FF);
            w.AddUInt64(StunAttributeType.IceControlling, 0x1122334455667788);
            w.Add(StunAttributeType.UseCandidate, []);
        }));
        yield return ("binding-nomination", Binding(key, (ref StunWriter w) =>
        {
            w.AddUInt32(StunAttributeType.Priority, 0x6E0001FF);
            w.AddUInt64(StunAttributeType.IceControlling, 0x1122334455667788);
            w.AddUInt32(StunAttributeType.Nomination, 3);
        }));
        yield return ("binding-unknown-attribute", Binding(key, (ref StunWriter w) =>
        {
            w.AddUInt32(StunAttributeType.Priority, 0x6E0001FF);
            w.Add(0x7777, [1, 2, 3]);
        }));
        var buffer = new byte[128];
        var indication = new StunWriter(buffer, StunConstants.BindingMethod, StunClass.Indication, new byte[12]);
        yield return ("binding-indication", buffer[..indication.AddFingerprint()]);
    }

    private delegate void StunAttributes(ref StunWriter writer);

    private static byte[] Binding(byte[] key, StunAttributes attributes)
    {
        var buffer = new byte[512];
        var w = new StunWriter(buffer, StunConstants.BindingMethod, StunClass.Request, "fuzztxid0001"u8);
        w.AddString(StunAttributeType.Username, StunTarget.Ufrag + ":remote");
        attributes(ref w);
        w.AddMessageIntegrity(key);
        return buffer[..w.AddFingerprint()];
    }

    private static IEnumerable<(string, byte[])> Rtp()
    {
        var buffer = new byte[1500];
        var w = new RtpPacketWriter(buffer, 111, 1000, 48000, 0x11111111);
        w.AddExtension(1, "0"u8);                                  // mid
        w.AddExtension(2, [0x12, 0x34, 0x56]);                     // abs-send-time
        w.AddExtension(3, [0x00, 0x07]);                           // transport-wide sequence
        w.AddExtension(4, [0x85]);                                 // audio level, voice
        yield return ("one-byte-audio", buffer[..w.SetPayload([0xF8, 0xFF, 0xFE])]);

        w = new RtpPacketWriter(buffer, 96, 2000, 90000, 0x22222222, marker: true);
        w.AddExtension(1, "1"u8);
        w.AddExtension(10, "r0"u8);                                // rid
        w.AddExtension(13, [0x03]);                                // video orientation
        w.AddExtension(6, new byte[8]);                            // abs-capture-time
        yield return ("one-byte-video", buffer[..w.SetPayload([0x90, 0x80, 0x05, 0x10, 0x02])]);

        w = new RtpPacketWriter(buffer, 96, 3000, 90000, 0x33333333, twoByteExtensions: true);
        w.AddExtension(1, "1"u8);
        w.AddExtension(20, new byte[20]);
        w.AddExtension(3, []);
        yield return ("two-byte", buffer[..w.SetPayload([1, 2, 3, 4])]);

        w = new RtpPacketWriter(buffer, 97, 4000, 90000, 0x44444444);
        w.AddCsrc(0xAAAAAAAA);
        w.AddCsrc(0xBBBBBBBB);
        w.SetPayload([0x07, 0xD0, 0x10, 0x20]);                    // an RTX packet: OSN 2000
        yield return ("csrcs-padding", buffer[..w.AddPadding(4)]);
    }

    private static IEnumerable<(string, byte[])> Rtcp()
    {
        var buffer = new byte[1500];
        ReportBlock[] blocks = [new(0x11111111, 12, 300, 70000, 40, 0x12345678, 0x00010000), new(0x22222222, 0, -5, 1000, 0, 0, 0)];
        var n = SenderReport.Write(buffer, 0xABCDEF01, 0xE1234567_89ABCDEF, 90000, 100, 120000, blocks);
        n += SourceDescription.WriteCname(buffer.AsSpan(n), 0xABCDEF01, "fuzz-cname");
        yield return ("sr-sdes", buffer[..n]);

        n = ReceiverReport.Write(buffer, 0x01020304, blocks);
        n += Remb.Write(buffer.AsSpan(n), 0x01020304, 1_500_000, [0x11111111, 0x22222222]);
        yield return ("rr-remb", buffer[..n]);

        n = GenericNack.Write(buffer, 0x01020304, 0x11111111, [100, 101, 105, 130, 131]);
        n += PictureLossIndication.Write(buffer.AsSpan(n), 0x01020304, 0x11111111);
        n += FullIntraRequest.Write(buffer.AsSpan(n), 0x01020304, 0x11111111, 3);
        yield return ("nack-pli-fir", buffer[..n]);

        var builder = new TransportCcBuilder();
        long arrival = 1_000_000;
        foreach (var s in (ReadOnlySpan<ushort>)[0, 1, 2, 4, 5, 9, 10, 40])
        {
            builder.OnPacket(s, arrival);
            arrival += s == 9 ? 70_000 : 5_000;
        }
        yield return ("transport-cc", buffer[..builder.Write(buffer, 0x01020304, 0x11111111)]);

        n = ExtendedReport.WriteRrtr(buffer, 0x01020304, 0xE1234567_89ABCDEF);
        n += ExtendedReport.WriteDlrr(buffer.AsSpan(n), 0x01020304, [new DlrrItem(0x11111111, 0x45678901, 0x00008000)]);
        yield return ("xr-rrtr-dlrr", buffer[..n]);

        n = Bye.Write(buffer, 0x11111111, "bye now");
        // APP (RFC 3550 §6.7): subtype 1, SSRC, name "FUZZ", 4 bytes of data.
        byte[] app = [0x81, 204, 0x00, 0x03, 0x11, 0x11, 0x11, 0x11, (byte)'F', (byte)'U', (byte)'Z', (byte)'Z', 1, 2, 3, 4];
        app.CopyTo(buffer, n);
        yield return ("bye-app", buffer[..(n + app.Length)]);
    }

    private static IEnumerable<(string, byte[])> Dtls()
    {
        // Imported endpoint, each suite: sealed application data, a sealed close_notify, a raw handshake record.
        foreach (var suite in new byte[] { 0, 2, 4 })
        {
            var bytes = new List<byte> { suite, 0x00, 0x05 };    // replay window's highest: 4
            Sealed(bytes, 23, 1, 5, "hello"u8.ToArray(), coalesce: false);
            Sealed(bytes, 23, 1, 6, new byte[300], coalesce: true);
            Sealed(bytes, 21, 1, 7, [1, 0], coalesce: false);           // warning close_notify
            bytes.Add(0);
            bytes.AddRange(Records(0, Hex("16 fefd 0000 000000000001 0004 01020304"))[1..]);
            yield return ($"imported-suite{suite}", [.. bytes]);
        }
        // The client's flights of a real handshake, for a fresh server endpoint: ClientHello, then its second flight.
        using var context = new DtlsContext(DtlsCertificate.Generate());
        using var client = new DtlsEndpoint(context, DtlsRole.Client);
        using var server = new DtlsEndpoint(context, DtlsRole.Server);
        var now = TimeSpan.FromSeconds(1);
        client.Start(now);
        server.Start(now);
        var flights = new List<byte[]>();
        for (var round = 0; round < 4; round++)
        {
            while (client.TryPollDatagram(out var d))
            {
                flights.Add(d);
                server.HandleDatagram(now, d);
            }
            while (server.TryPollDatagram(out var d)) client.HandleDatagram(now, d);
        }
        var handshake = new List<byte> { 0x80 };
        foreach (var f in flights) handshake.AddRange(Records(0, f));
        yield return ("handshake-client-flights", [.. handshake]);
        yield return ("handshake-client-hello", Records(0x80, flights[0]));
        // A connected server: application data from the client, a raw alert record, a handshake retransmission.
        var connected = new List<byte> { 0xC0 };
        connected.AddRange(Records(1, "hello"u8.ToArray()));
        connected.AddRange(Records(0, Hex("15 fefd 0001 000000000009 0002 0100")));
        connected.AddRange(Records(0, flights[^1]));
        yield return ("connected-data-alert-retransmit", [.. connected]);
    }

    private static void Sealed(List<byte> bytes, byte type, ushort epoch, uint sequence, byte[] plaintext, bool coalesce)
    {
        bytes.Add((byte)(coalesce ? 3 : 1));
        bytes.Add(type);
        bytes.Add((byte)(epoch >> 8));
        bytes.Add((byte)epoch);
        bytes.AddRange([(byte)(sequence >> 24), (byte)(sequence >> 16), (byte)(sequence >> 8), (byte)sequence]);
        bytes.Add((byte)(plaintext.Length >> 8));
        bytes.Add((byte)plaintext.Length);
        bytes.AddRange(plaintext);
    }

    private static IEnumerable<(string, byte[])> Sctp()
    {
        const byte established = SctpTarget.FixChecksum | SctpTarget.FixTag;
        var now = TimeSpan.FromSeconds(10);

        var (client, server) = SctpTarget.Connect(now);
        SctpTarget.Pump(server, client, now);                      // the server's data reaches the client
        var packets = new List<byte[]>();
        client.Send(now, 0, "hi"u8, isString: true);
        client.Send(now, 2, new byte[2500], isString: false);      // fragmented
        packets.AddRange(Take(client, now));
        yield return ("established-data-sack", Records(established, [.. packets]));

        client.CloseChannel(now, 2);
        yield return ("established-reconfig", Records(established, [.. Take(client, now)]));
        client.Association.Shutdown(now);
        yield return ("established-shutdown", Records(established | SctpTarget.Timers, [.. Take(client, now)]));

        (client, _) = SctpTarget.Connect(now);
        client.Association.Abort("fuzz");
        yield return ("established-abort", Records(established, [.. Take(client, now)]));

        // A new association: the client's INIT, then its COOKIE-ECHO for what a fresh server answers (same seeds, same cookie).
        var fresh = new DataChannelEndpoint(new SctpAssociation(SctpTarget.Options(1)), dtlsClient: true);
        var freshServer = new DataChannelEndpoint(new SctpAssociation(SctpTarget.Options(2)), dtlsClient: false);
        fresh.Association.Connect(now);
        var init = Take(fresh, now);
        foreach (var p in init) freshServer.HandlePacket(now, p);
        foreach (var p in Take(freshServer, now)) fresh.HandlePacket(now, p);
        fresh.OpenChannel(now, new DataChannelOptions { Label = "chat" });
        var echo = Take(fresh, now);
        yield return ("fresh-init-cookie-echo", Records(SctpTarget.FixChecksum | SctpTarget.Fresh, [.. init, .. echo]));
    }

    private static List<byte[]> Take(DataChannelEndpoint endpoint, TimeSpan now)
    {
        var packets = new List<byte[]>();
        var buffer = new byte[1500];
        int n;
        while ((n = endpoint.PollPacket(buffer, now)) > 0) packets.Add(buffer[..n]);
        return packets;
    }

    private static IEnumerable<(string, byte[])> Dcep()
    {
        yield return ("reliable", new DcepOpen(DataChannelType.Reliable, 256, 0, "chat", "").ToBytes());
        yield return ("unordered-rexmit", new DcepOpen((DataChannelType)0x81, 128, 3, "lossy", "proto").ToBytes());
        yield return ("timed-utf8", new DcepOpen((DataChannelType)0x02, 512, 1500, "données ✓", "").ToBytes());
    }

    private static IEnumerable<(string, byte[])> Srtp()
    {
        var rtp = new byte[1500];
        var w = new RtpPacketWriter(rtp, 96, 65534, 90000, 0x11111111);
        w.AddExtension(3, [0x00, 0x07]);
        var rtpLength = w.SetPayload(new byte[40]);
        var rtcp = new byte[1500];
        var rtcpLength = ReceiverReport.Write(rtcp, 0x01020304, [new ReportBlock(0x11111111, 0, 0, 1000, 0, 0, 0)]);
        for (byte profile = 0; profile < 4; profile++)
        {
            // Plain packets protected by the target itself: a run across the sequence number wrap, and a replay.
            var second = rtp[..rtpLength];
            BinaryPrimitives.WriteUInt16BigEndian(second.AsSpan(2), 1);
            yield return ($"protect-rtp-{profile}", Records((byte)(8 | profile), rtp[..rtpLength], second, rtp[..rtpLength]));
            yield return ($"protect-rtcp-{profile}", Records((byte)(8 | 4 | profile), rtcp[..rtcpLength], rtcp[..rtcpLength]));
            // Packets already protected with the target's key, for the raw path.
            var profileValue = new[] { SrtpProfile.AesCm128HmacSha1_80, SrtpProfile.AesCm128HmacSha1_32, SrtpProfile.AeadAes128Gcm, SrtpProfile.AeadAes256Gcm }[profile];
            var key = new byte[profileValue.MasterKeyLength()];
            var salt = new byte[profileValue.MasterSaltLength()];
            for (var i = 0; i < key.Length; i++) key[i] = (byte)(0x10 + i);
            for (var i = 0; i < salt.Length; i++) salt[i] = (byte)(0x80 + i);
            using var sender = new SrtpSession(profileValue, key, salt);
            var buffer = new byte[1600];
            rtp.AsSpan(0, rtpLength).CopyTo(buffer);
            sender.ProtectRtp(buffer, rtpLength, out var protectedRtp);
            var srtp = buffer[..protectedRtp];
            rtcp.AsSpan(0, rtcpLength).CopyTo(buffer);
            sender.ProtectRtcp(buffer, rtcpLength, out var protectedRtcp);
            yield return ($"raw-rtp-{profile}", Records(profile, srtp, srtp));
            yield return ($"raw-rtcp-{profile}", Records((byte)(4 | profile), buffer[..protectedRtcp]));
        }
    }

    private static IEnumerable<(string, byte[])> Vp8()
    {
        yield return ("minimal", [0x10, 0x00, 0x01]);
        // X, S, PID 0; I L T K; 15-bit picture id 0x1234; TL0PICIDX 5; TID 1 Y KEYIDX 3; key frame header 640x360.
        yield return ("keyframe-extended", [0x90, 0xF0, 0x92, 0x34, 0x05, 0x63, 0x50, 0x01, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0x68, 0x01]);
        yield return ("delta-7bit-pid", [0x80, 0x80, 0x12, 0x01, 0x00]);
    }

    private static IEnumerable<(string, byte[])> Vp9()
    {
        // Non-flexible key frame: I P=0 L F=0 B E V; 15-bit picture id; layer indices (T0 S0 U D=0); TL0PICIDX;
        // scalability structure: N_S=1 (two layers) Y G; 320x180 and 640x360; N_G=1: T0, U, one reference of 1.
        yield return ("keyframe-ss", [0xAE, 0x80, 0x05, 0x10, 0x00, 0x38, 0x01, 0x40, 0x00, 0xB4, 0x02, 0x80, 0x01, 0x68, 0x01, 0x14, 0x01, 0xAA]);
        // Flexible mode delta: I P L F B E; 7-bit picture id; T1 S0; two reference diffs.
        yield return ("flexible-refs", [0xFC, 0x12, 0x20, 0x03, 0x04, 0xAA]);
        yield return ("minimal", [0x0C, 0xAA]);
    }

    private static IEnumerable<(string, byte[])> H264()
    {
        yield return ("idr", [0x65, 0x88, 0x84, 0x00]);
        // STAP-A: SPS, PPS, IDR, each with a 16-bit size.
        yield return ("stap-a", [0x18, 0x00, 0x04, 0x67, 0x42, 0xC0, 0x1F, 0x00, 0x02, 0x68, 0xCE, 0x00, 0x03, 0x65, 0x88, 0x84]);
        yield return ("fu-a-start", [0x7C, 0x85, 0x88, 0x84, 0x00, 0x10]);
        yield return ("fu-a-end", [0x7C, 0x45, 0x22, 0x33]);
        yield return ("non-idr", [0x41, 0x9A, 0x02]);
    }

    private static IEnumerable<(string, byte[])> H265()
    {
        yield return ("idr-w-radl", [0x26, 0x01, 0xAF, 0x06]);
        // Aggregation packet (type 48): VPS and SPS with 16-bit sizes.
        yield return ("ap", [0x60, 0x01, 0x00, 0x03, 0x40, 0x01, 0x0C, 0x00, 0x03, 0x42, 0x01, 0x01]);
        // Fragmentation unit (type 49), start of an IDR_W_RADL (19).
        yield return ("fu-start", [0x62, 0x01, 0x93, 0xAF, 0x06]);
        yield return ("temporal-layer", [0x02, 0x03, 0xD0]);
    }

    private static IEnumerable<(string, byte[])> Av1()
    {
        // A key frame carrying its L1T2 template structure (render size 640x360), then a frame that uses it.
        var structure = Bits(
            "1", "1", "001010", "0000000000000001",           // start, end, template id 10, frame number 1
            "1", "0", "0", "0", "0",                            // structure, no active targets, no custom fields
            "001010", "00001",                                  // template id offset 10, two decode targets
            "00", "01", "11",                                   // next layer: same, next temporal, end
            "1010", "1010", "0001",                             // indications per template and target
            "0", "100010", "100000",                            // frame diffs: none, 2, 1
            "10",                                               // one chain
            "0000", "0010", "0001",                             // chain diffs per template
            "1", "0000001001111111", "0000000101100111");       // resolution 640x360
        byte[] keyFrame = [0x28, 0x03, 0x08, 0x00, 0x00, 0x34, 0x48, 0x10, 0x20];
        var delta = Bits("1", "1", "001100", "0000000000000010");   // template 12 (S0T1), frame 2
        yield return ("structure-then-frame", Records(0, structure, keyFrame, delta, [0x10, 0x30, 0x01])[1..]);
        yield return ("continuation", Records(0, [0x85, 0x12, 0x34], [0xC0, 0x02, 0xFF, 0xFF, 0x81, 0x01, 0x30])[1..]);
    }

    private static byte[] Bits(params string[] fields)
    {
        var bits = string.Concat(fields);
        var bytes = new byte[(bits.Length + 7) / 8];
        for (var i = 0; i < bits.Length; i++)
        {
            if (bits[i] == '1') bytes[i / 8] |= (byte)(0x80 >> (i % 8));
        }
        return bytes;
    }

    private static IEnumerable<(string, byte[])> Opus()
    {
        yield return ("silk-20ms", [0x78, 0x01, 0x02, 0x03]);
        yield return ("celt-stereo-two-frames", [0xFD, 0x03, 0x10, 0x20, 0x30, 0x40]);
        yield return ("code3-vbr", [0x4B, 0x83, 0x02, 0x01, 0xAA, 0xBB, 0xCC, 0xDD]);
        yield return ("dtx", [0x78]);
    }

    private static IEnumerable<(string, byte[])> Rfc4571()
    {
        var stun = Stun().First().Item2;
        var rtp = Rtp().First().Item2;
        var stream = new List<byte> { 7 };                     // delivered in chunks of 8 bytes
        foreach (var packet in new[] { stun, rtp, Rtcp().First().Item2 })
        {
            stream.Add((byte)(packet.Length >> 8));
            stream.Add((byte)packet.Length);
            stream.AddRange(packet);
        }
        yield return ("stun-rtp-rtcp", [.. stream]);
        yield return ("one-frame-whole", [63, 0x00, 0x04, 0x80, 0xC8, 0x00, 0x00]);
    }

    private static IEnumerable<(string, byte[])> RelayFrames()
    {
        var v4 = TransportTuple.From(new System.Net.IPEndPoint(System.Net.IPAddress.Parse("192.0.2.7"), 40000));
        var v6 = TransportTuple.From(new System.Net.IPEndPoint(System.Net.IPAddress.Parse("2001:db8::7"), 50000));
        var frame = new byte[RelayFrame.HeaderLength + 4];
        RelayFrame.WriteHeader(frame, RelayFrameKind.Datagram, 0x0BADCAFE, v4);
        frame[^4] = 0x80;
        yield return ("datagram-ipv4", frame);
        frame = new byte[RelayFrame.HeaderLength];
        RelayFrame.WriteHeader(frame, RelayFrameKind.PathMoved, 0x0BADCAFE, v6);
        yield return ("path-moved-ipv6", frame);
    }

    private static IEnumerable<(string, byte[])> Protoo()
    {
        const string opusCaps = """{"kind":"audio","mimeType":"audio/opus","preferredPayloadType":111,"clockRate":48000,"channels":2,"parameters":{"minptime":10,"useinbandfec":1},"rtcpFeedback":[{"type":"transport-cc"}]}""";
        const string vp8Caps = """{"kind":"video","mimeType":"video/VP8","preferredPayloadType":96,"clockRate":90000,"rtcpFeedback":[{"type":"nack"},{"type":"nack","parameter":"pli"},{"type":"ccm","parameter":"fir"},{"type":"goog-remb"},{"type":"transport-cc"}]}""";
        const string rtxCaps = """{"kind":"video","mimeType":"video/rtx","preferredPayloadType":97,"clockRate":90000,"parameters":{"apt":96}}""";
        const string extensions = """[{"kind":"audio","uri":"urn:ietf:params:rtp-hdrext:sdes:mid","preferredId":1},{"kind":"video","uri":"urn:ietf:params:rtp-hdrext:sdes:mid","preferredId":1},{"kind":"video","uri":"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01","preferredId":3},{"kind":"video","uri":"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time","preferredId":2}]""";
        string[] messages =
        [
            """{"request":true,"id":1,"method":"getRouterRtpCapabilities","data":{}}""",
            """{"request":true,"id":2,"method":"join","data":{"displayName":"fuzz","device":{"name":"Chrome","version":"140"},"rtpCapabilities":{"codecs":[""" + opusCaps + "," + vp8Caps + "," + rtxCaps + """],"headerExtensions":""" + extensions + """},"sctpCapabilities":{"numStreams":{"OS":1024,"MIS":1024}}}}""",
            """{"request":true,"id":3,"method":"createWebRtcTransport","data":{"forceTcp":false,"producing":true,"consuming":false,"sctpCapabilities":{"numStreams":{"OS":1024,"MIS":1024}}}}""",
            """{"request":true,"id":4,"method":"connectWebRtcTransport","data":{"transportId":"t1","dtlsParameters":{"role":"client","fingerprints":[{"algorithm":"sha-256","value":"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"}]}}}""",
            """{"request":true,"id":5,"method":"produce","data":{"transportId":"t1","kind":"audio","rtpParameters":{"mid":"0","codecs":[{"mimeType":"audio/opus","payloadType":111,"clockRate":48000,"channels":2,"parameters":{"minptime":10,"useinbandfec":1,"sprop-stereo":1},"rtcpFeedback":[{"type":"transport-cc"}]}],"headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":1}],"encodings":[{"ssrc":1111,"dtx":true}],"rtcp":{"cname":"fuzz","reducedSize":true}},"appData":{"source":"mic"}}}""",
            """{"request":true,"id":6,"method":"produce","data":{"transportId":"t1","kind":"video","rtpParameters":{"mid":"1","codecs":[{"mimeType":"video/VP8","payloadType":96,"clockRate":90000,"rtcpFeedback":[{"type":"nack"},{"type":"nack","parameter":"pli"},{"type":"goog-remb"}]},{"mimeType":"video/rtx","payloadType":97,"clockRate":90000,"parameters":{"apt":96}}],"headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":1},{"uri":"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id","id":10},{"uri":"urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id","id":11}],"encodings":[{"rid":"r0","scalabilityMode":"L1T3","maxBitrate":100000},{"rid":"r1","scalabilityMode":"L1T3","maxBitrate":300000},{"rid":"r2","scalabilityMode":"L1T3","maxBitrate":900000}],"rtcp":{"cname":"fuzz"}},"appData":{"source":"webcam"}}}""",
            """{"request":true,"id":7,"method":"produce","data":{"transportId":"t1","kind":"video","rtpParameters":{"codecs":[{"mimeType":"video/VP9","payloadType":98,"clockRate":90000,"parameters":{"profile-id":2}},{"mimeType":"video/rtx","payloadType":99,"clockRate":90000,"parameters":{"apt":98}}],"encodings":[{"ssrc":2222,"rtx":{"ssrc":2223},"scalabilityMode":"L3T3_KEY"}]}}}""",
            """{"request":true,"id":8,"method":"produceData","data":{"transportId":"t1","sctpStreamParameters":{"streamId":3,"ordered":false,"maxRetransmits":2},"label":"chat","protocol":"","appData":{}}}""",
            """{"request":true,"id":9,"method":"setConsumerPreferredLayers","data":{"consumerId":"c1","spatialLayer":2,"temporalLayer":1}}""",
            """{"request":true,"id":"ten","method":"changeDisplayName","data":{"displayName":"renamed"}}""",
            """{"response":true,"id":12,"ok":false,"errorCode":404,"errorReason":"gone"}""",
            """{"response":true,"id":13,"ok":true,"data":{}}""",
            """{"notification":true,"method":"heartbeat","data":{}}""",
        ];
        var i = 0;
        foreach (var m in messages) yield return ($"message-{++i:00}", Encoding.UTF8.GetBytes(m));
    }
}
