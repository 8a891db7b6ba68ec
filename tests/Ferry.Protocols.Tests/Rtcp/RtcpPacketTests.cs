using System.Text;
using Ferry.Protocols.Rtcp;

namespace Ferry.Protocols.Tests.Rtcp;

public class RtcpPacketTests
{
    private static RtcpPacket First(byte[] datagram)
    {
        var e = new RtcpCompoundEnumerator(datagram);
        Assert.True(e.MoveNext());
        return e.Current;
    }

    // SR (1 block) + SDES CNAME, laid out by hand from RFC 3550 §6.4.1 and §6.5.
    private static readonly byte[] SrSdes =
    [
        0x81, 200, 0x00, 0x0C,                          // V=2 RC=1 SR, length 12 words (52 bytes)
        0x11, 0x22, 0x33, 0x44,                         // sender SSRC
        0xE8, 0x9E, 0x1A, 0x00, 0x80, 0x00, 0x00, 0x00, // NTP 0xE89E1A00.80000000
        0x00, 0x01, 0x51, 0x80,                         // RTP timestamp 86400
        0x00, 0x00, 0x03, 0xE8,                         // 1000 packets
        0x00, 0x0F, 0x42, 0x40,                         // 1,000,000 octets
        0xAA, 0xBB, 0xCC, 0xDD,                         // block: SSRC
        0x40, 0xFF, 0xFF, 0xFE,                         //   fraction 64/256, cumulative -2
        0x00, 0x01, 0x00, 0x05,                         //   ext highest seq (cycle 1, seq 5)
        0x00, 0x00, 0x00, 0x20,                         //   jitter 32
        0x1A, 0x00, 0x80, 0x00,                         //   LSR
        0x00, 0x01, 0x00, 0x00,                         //   DLSR 1 s
        0x81, 202, 0x00, 0x04,                          // SDES SC=1, length 4 words
        0x11, 0x22, 0x33, 0x44,                         // chunk SSRC
        0x01, 0x06, (byte)'f', (byte)'e', (byte)'r', (byte)'r', (byte)'y', (byte)'!', // CNAME "ferry!"
        0x00, 0x00, 0x00, 0x00,                         // end of items + padding to the word
    ];

    [Fact]
    public void Sender_report_and_sdes_parse_field_by_field()
    {
        var e = new RtcpCompoundEnumerator(SrSdes);
        Assert.True(e.MoveNext());
        Assert.True(SenderReport.TryParse(e.Current, out var sr));
        Assert.Equal(0x11223344u, sr.Ssrc);
        Assert.Equal(0xE89E1A0080000000UL, sr.NtpTimestamp);
        Assert.Equal(86400u, sr.RtpTimestamp);
        Assert.Equal(1000u, sr.PacketCount);
        Assert.Equal(1_000_000u, sr.OctetCount);
        var blocks = new List<ReportBlock>();
        foreach (var b in sr.ReportBlocks) blocks.Add(b);
        Assert.Equal([new ReportBlock(0xAABBCCDD, 64, -2, 0x00010005, 32, 0x1A008000, 0x00010000)], blocks);
        Assert.True(e.MoveNext());
        Assert.True(SourceDescription.TryGetCname(e.Current, 0x11223344, out var cname));
        Assert.Equal("ferry!", Encoding.ASCII.GetString(cname));
        Assert.False(e.MoveNext());
        Assert.False(e.IsMalformed);
        Assert.True(RtcpCompoundEnumerator.IsValid(SrSdes));
    }

    [Fact]
    public void Writers_reproduce_the_annotated_bytes()
    {
        var buffer = new byte[100];
        var n = SenderReport.Write(buffer, 0x11223344, 0xE89E1A0080000000, 86400, 1000, 1_000_000,
            [new ReportBlock(0xAABBCCDD, 64, -2, 0x00010005, 32, 0x1A008000, 0x00010000)]);
        n += SourceDescription.WriteCname(buffer.AsSpan(n), 0x11223344, "ferry!");
        Assert.Equal(SrSdes, buffer[..n]);
    }

    [Fact]
    public void Receiver_report_sdes_and_bye_in_one_compound()
    {
        var buffer = new byte[200];
        var n = ReceiverReport.Write(buffer, 0x01020304, [new ReportBlock(5, 0, 100, 1000, 2, 0, 0), new ReportBlock(6, 255, -8_388_608, 7, 8, 9, 10)]);
        n += SourceDescription.WriteCname(buffer.AsSpan(n), 0x01020304, "a-cname-of-seventeen");
        n += Bye.Write(buffer.AsSpan(n), 0x01020304, "bye now");
        var e = new RtcpCompoundEnumerator(buffer.AsSpan(0, n));
        Assert.True(e.MoveNext());
        Assert.True(ReceiverReport.TryParse(e.Current, out var rr));
        Assert.Equal(0x01020304u, rr.Ssrc);
        var blocks = new List<ReportBlock>();
        foreach (var b in rr.ReportBlocks) blocks.Add(b);
        Assert.Equal(-8_388_608, blocks[1].CumulativeLost);
        Assert.Equal(2, blocks.Count);
        Assert.True(e.MoveNext());
        Assert.True(SourceDescription.TryGetCname(e.Current, null, out var cname));
        Assert.Equal("a-cname-of-seventeen", Encoding.ASCII.GetString(cname));
        Assert.True(e.MoveNext());
        Span<uint> ssrcs = stackalloc uint[4];
        Assert.Equal(1, Bye.ReadSsrcs(e.Current, ssrcs));
        Assert.Equal(0x01020304u, ssrcs[0]);
        Assert.True(Bye.TryGetReason(e.Current, out var reason));
        Assert.Equal("bye now", Encoding.ASCII.GetString(reason));
        Assert.False(e.MoveNext());
    }

    [Fact]
    public void Generic_nack_packs_runs_into_pid_and_blp_across_the_wrap()
    {
        // RFC 4585 §6.2.1: PID then a bitmask of the following 16: (65534; +1, +2) and (16; +16).
        byte[] annotated = [0x81, 205, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 2, 0xFF, 0xFE, 0x00, 0x03, 0x00, 0x10, 0x80, 0x00];
        var lostIn = new ushort[] { 65534, 65535, 0, 16, 32 };
        var buffer = new byte[64];
        var n = GenericNack.Write(buffer, 1, 2, lostIn);
        Assert.Equal(annotated, buffer[..n]);
        Assert.True(GenericNack.TryParse(First(annotated), out var sender, out var media));
        Assert.Equal((1u, 2u), (sender, media));
        Span<ushort> lost = stackalloc ushort[40];
        var count = GenericNack.ReadLost(First(annotated), lost);
        Assert.Equal(lostIn, lost[..count].ToArray());
    }

    [Fact]
    public void Pli_fir_and_remb_round_trip()
    {
        var buffer = new byte[64];
        var n = PictureLossIndication.Write(buffer, 7, 8);
        Assert.Equal(new byte[] { 0x81, 206, 0, 2, 0, 0, 0, 7, 0, 0, 0, 8 }, buffer[..n]);
        Assert.True(PictureLossIndication.TryParse(First(buffer[..n]), out var s, out var m));
        Assert.Equal((7u, 8u), (s, m));
        Assert.False(FullIntraRequest.TryParse(First(buffer[..n]), out _, out _, out _));

        n = FullIntraRequest.Write(buffer, 7, 0xABCDEF01, 42);
        Assert.Equal(new byte[] { 0x84, 206, 0, 4, 0, 0, 0, 7, 0, 0, 0, 0, 0xAB, 0xCD, 0xEF, 0x01, 42, 0, 0, 0 }, buffer[..n]);
        Assert.True(FullIntraRequest.TryParse(First(buffer[..n]), out _, out var target, out var seq));
        Assert.Equal((0xABCDEF01u, (byte)42), (target, seq));

        n = Remb.Write(buffer, 7, 1_000_000, [0x11111111, 0x22222222]);
        // 1,000,000 = 0x3D090 needs 18 bits at exponent 2: mantissa 250000, exponent 2.
        Assert.Equal(new byte[] { 0x8F, 206, 0, 6, 0, 0, 0, 7, 0, 0, 0, 0, (byte)'R', (byte)'E', (byte)'M', (byte)'B', 2, 0x0B, 0xD0, 0x90, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22 }, buffer[..n]);
        Span<uint> ssrcs = stackalloc uint[4];
        Assert.True(Remb.TryParse(First(buffer[..n]), out _, out var bitrate, ssrcs, out var count));
        Assert.Equal(1_000_000UL, bitrate);
        Assert.Equal(2, count);
        Assert.Equal(0x22222222u, ssrcs[1]);
    }

    [Fact]
    public void Xr_rrtr_and_dlrr_round_trip_and_rtt_comes_from_lsr_and_dlsr()
    {
        var buffer = new byte[64];
        var n = ExtendedReport.WriteRrtr(buffer, 9, 0x0102030405060708);
        Assert.True(ExtendedReport.TryGetRrtr(First(buffer[..n]), out var ssrc, out var ntp));
        Assert.Equal((9u, 0x0102030405060708UL), (ssrc, ntp));
        n = ExtendedReport.WriteDlrr(buffer, 9, [new DlrrItem(1, 2, 3), new DlrrItem(4, 5, 6)]);
        Span<DlrrItem> items = stackalloc DlrrItem[4];
        Assert.Equal(2, ExtendedReport.ReadDlrr(First(buffer[..n]), items));
        Assert.Equal(new DlrrItem(4, 5, 6), items[1]);

        // RFC 3550 §6.4.1's example: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000 (46853.125), DLSR = 0x0005:4000 (5.250) -> 6.125 s.
        Assert.Equal(TimeSpan.FromSeconds(6.125), NtpTime.RoundTrip(0xb7108000, 0xb7052000, 0x00054000));
        Assert.Null(NtpTime.RoundTrip(0xb7108000, 0, 0));
        Assert.Equal(0xb7108000u, NtpTime.ToCompact(NtpTime.FromTimeSpan(TimeSpan.FromSeconds(46864.5))));
    }

    [Fact]
    public void Malformed_compounds_stop_at_the_bad_packet()
    {
        var good = SrSdes;
        Assert.False(RtcpCompoundEnumerator.IsValid(good[..^4]));              // SDES length runs past the end
        var badVersion = good.ToArray();
        badVersion[52] = 0x41;
        var e = new RtcpCompoundEnumerator(badVersion);
        Assert.True(e.MoveNext());
        Assert.False(e.MoveNext());
        Assert.True(e.IsMalformed);
        var paddingNotLast = good.ToArray();
        paddingNotLast[0] |= 0x20;
        Assert.False(RtcpCompoundEnumerator.IsValid(paddingNotLast));
        Assert.False(RtcpCompoundEnumerator.IsValid([]));
    }

    [Fact]
    public void Every_parser_survives_truncated_and_random_input()
    {
        var samples = new List<byte[]> { SrSdes };
        var buffer = new byte[300];
        var builder = new TransportCcBuilder();
        for (var i = 0; i < 50; i += i % 3 == 0 ? 2 : 1) builder.OnPacket((ushort)i, 1000 + i * 3000);
        samples.Add(buffer[..builder.Write(buffer, 1, 2)]);
        samples.Add(buffer[..GenericNack.Write(buffer, 1, 2, [1, 2, 30])]);
        samples.Add(buffer[..Remb.Write(buffer, 1, 500_000, [3])]);
        samples.Add(buffer[..ExtendedReport.WriteDlrr(buffer, 1, [new DlrrItem(1, 2, 3)])]);
        samples.Add(buffer[..Bye.Write(buffer, 1, "why")]);
        var random = new Random(3550);
        for (var round = 0; round < 20_000; round++)
        {
            byte[] bytes;
            if (round < 2_000)
            {
                var sample = samples[round % samples.Count];
                bytes = sample[..random.Next(sample.Length + 1)];
            }
            else
            {
                var sample = samples[random.Next(samples.Count)].ToArray();
                for (var k = random.Next(1, 4); k > 0; k--) sample[random.Next(sample.Length)] = (byte)random.Next(256);
                bytes = random.Next(5) == 0 ? RandomBytes(random) : sample;
            }
            Exercise(bytes);
        }

        static byte[] RandomBytes(Random r)
        {
            var b = new byte[r.Next(0, 100)];
            r.NextBytes(b);
            if (b.Length > 1) b[0] = (byte)(0x80 | (b[0] & 0x3F));
            return b;
        }

        static void Exercise(byte[] bytes)
        {
            Span<ushort> lost = stackalloc ushort[64];
            Span<uint> ssrcs = stackalloc uint[8];
            Span<DlrrItem> items = stackalloc DlrrItem[8];
            var results = new TransportCcResult[8192];
            foreach (var p in new RtcpCompoundEnumerator(bytes))
            {
                if (SenderReport.TryParse(p, out var sr)) foreach (var b in sr.ReportBlocks) _ = b.Jitter;
                if (ReceiverReport.TryParse(p, out var rr)) foreach (var b in rr.ReportBlocks) _ = b.Jitter;
                SourceDescription.TryGetCname(p, null, out _);
                Bye.ReadSsrcs(p, ssrcs);
                Bye.TryGetReason(p, out _);
                AppPacket.TryParse(p, out _, out _, out _, out _);
                GenericNack.ReadLost(p, lost);
                PictureLossIndication.TryParse(p, out _, out _);
                FullIntraRequest.TryParse(p, out _, out _, out _);
                Remb.TryParse(p, out _, out _, ssrcs, out _);
                ExtendedReport.TryGetRrtr(p, out _, out _);
                ExtendedReport.ReadDlrr(p, items);
                TransportCcFeedback.Parse(p, results, out _, out _, out _);
            }
        }
    }

    [Fact]
    public void Parsing_a_compound_and_a_nack_allocates_nothing()
    {
        var nack = new byte[64];
        var nackLength = GenericNack.Write(nack, 1, 2, [10, 11, 12, 40]);
        Span<ushort> lost = stackalloc ushort[64];
        var rounds = new SteadyStateRounds();
        for (var round = 0; round < SteadyStateRounds.Max && !rounds.Reached; round++)
        {
            rounds.Begin();
            for (var i = 0; i < 10_000; i++)
            {
                foreach (var p in new RtcpCompoundEnumerator(SrSdes))
                {
                    if (SenderReport.TryParse(p, out var sr)) foreach (var b in sr.ReportBlocks) _ = b.FractionLost;
                    SourceDescription.TryGetCname(p, null, out _);
                }
                foreach (var p in new RtcpCompoundEnumerator(nack.AsSpan(0, nackLength))) GenericNack.ReadLost(p, lost);
            }
            rounds.End();
        }
        rounds.AssertReached("10,000 parses");
    }
}
