using Ferry.Protocols.Rtp;

namespace Ferry.Protocols.Tests.Rtp;

public class RtpPacketTests
{
    // An Opus packet as Chrome sends it: one-byte extensions ssrc-audio-level (id 1), abs-send-time (id 2),
    // transport-wide-cc (id 3), mid (id 4) = "0".
    private static byte[] OpusPacket() =>
    [
        0x90, 0x6F, 0x1F, 0x40,             // V=2 X=1, PT=111, seq=8000
        0x00, 0x01, 0xE2, 0x40,             // timestamp 123456
        0x11, 0x22, 0x33, 0x44,             // SSRC
        0xBE, 0xDE, 0x00, 0x03,             // one-byte profile, 3 words
        0x10, 0xAA,                         // id 1 len 1: V=1 level 42
        0x22, 0x12, 0x34, 0x56,             // id 2 len 3: abs-send-time
        0x31, 0x00, 0x07,                   // id 3 len 2: tw seq 7
        0x40, 0x30,                         // id 4 len 1: "0"
        0x00,                               // padding to the word
        0xFC, 0xFF, 0xFE,                   // payload (Opus TOC + data)
    ];

    // A VP8 packet with the two-byte form: id 5 carrying 17 bytes, id 200 carrying 0 bytes, CSRC, RTP padding.
    private static byte[] Vp8TwoBytePacket()
    {
        var p = new List<byte>
        {
            0xB1, 0xE0, 0xFF, 0xFF,         // V=2 P=1 X=1 CC=1, M=1 PT=96, seq 65535
            0xFF, 0xFF, 0xFF, 0xFF,
            0xDE, 0xAD, 0xBE, 0xEF,
            0x01, 0x02, 0x03, 0x04,         // CSRC
            0x10, 0x00, 0x00, 0x06,         // two-byte profile, 6 words = 24 bytes
            0x05, 0x11,                     // id 5 len 17
        };
        p.AddRange(Enumerable.Range(1, 17).Select(i => (byte)i));
        p.AddRange([0xC8, 0x00]);           // id 200 len 0
        p.AddRange([0x00, 0x00, 0x00]);     // padding to 24
        p.AddRange([0x90, 0x80, 0x05]);     // VP8 payload descriptor start
        p.AddRange([0x00, 0x00, 0x03]);     // RTP padding, 3 bytes
        return p.ToArray();
    }

    [Fact]
    public void Parses_a_one_byte_extension_packet()
    {
        var bytes = OpusPacket();
        Assert.True(RtpPacket.TryParse(bytes, out var p));
        Assert.False(p.Marker);
        Assert.Equal(111, p.PayloadType);
        Assert.Equal(8000, p.SequenceNumber);
        Assert.Equal(123456u, p.Timestamp);
        Assert.Equal(0x11223344u, p.Ssrc);
        Assert.Equal(RtpExtensionForm.OneByte, p.ExtensionForm);
        Assert.Equal(28, p.HeaderLength);
        Assert.Equal(new byte[] { 0xFC, 0xFF, 0xFE }, p.Payload.ToArray());

        Assert.True(p.TryGetExtension(1, out var level));
        Assert.True(RtpExtensionValues.TryReadAudioLevel(level, out var voice, out var dbov));
        Assert.True(voice);
        Assert.Equal(42, dbov);
        Assert.True(p.TryGetExtension(2, out var abs));
        Assert.True(RtpExtensionValues.TryReadAbsSendTime(abs, out var ast));
        Assert.Equal(0x123456u, ast);
        Assert.True(p.TryGetExtension(3, out var tw));
        Assert.True(RtpExtensionValues.TryReadTransportWideSequence(tw, out var twSeq));
        Assert.Equal(7, twSeq);
        Assert.True(p.TryGetExtension(4, out var mid));
        Assert.True("0"u8.SequenceEqual(mid));
        Assert.False(p.TryGetExtension(5, out _));
    }

    [Fact]
    public void Parses_two_byte_extensions_csrcs_and_padding()
    {
        var bytes = Vp8TwoBytePacket();
        Assert.True(RtpPacket.TryParse(bytes, out var p));
        Assert.True(p.Marker);
        Assert.Equal(96, p.PayloadType);
        Assert.Equal(65535, p.SequenceNumber);
        Assert.Equal(1, p.CsrcCount);
        Assert.Equal(0x01020304u, p.GetCsrc(0));
        Assert.Equal(RtpExtensionForm.TwoByte, p.ExtensionForm);
        Assert.True(p.TryGetExtension(5, out var big));
        Assert.Equal(17, big.Length);
        Assert.True(p.TryGetExtension(200, out var empty));
        Assert.Equal(0, empty.Length);
        Assert.Equal(3, p.PaddingLength);
        Assert.Equal(new byte[] { 0x90, 0x80, 0x05 }, p.Payload.ToArray());
        Assert.Equal(3, p.RemovePadding());
        Assert.False(p.HasPadding);
        Assert.Equal(bytes.Length - 3, p.Length);
        Assert.True(RtpPacket.TryParse(bytes.AsSpan(0, p.Length), out var again));
        Assert.Equal(p.Payload.ToArray(), again.Payload.ToArray());
    }

    [Fact]
    public void Setters_rewrite_the_header_in_place_and_restore()
    {
        var bytes = OpusPacket();
        var original = bytes.ToArray();
        RtpPacket.TryParse(bytes, out var p);
        var (ssrc, pt, seq, ts, marker) = (p.Ssrc, p.PayloadType, p.SequenceNumber, p.Timestamp, p.Marker);
        p.Ssrc = 0xCAFEBABE;
        p.PayloadType = 100;
        p.SequenceNumber = 1;
        p.Timestamp = 2;
        p.Marker = true;
        Assert.Equal(new byte[] { 0x90, 0xE4, 0x00, 0x01, 0, 0, 0, 2, 0xCA, 0xFE, 0xBA, 0xBE }, bytes[..12]);
        Assert.Equal(original[12..], bytes[12..]);
        (p.Ssrc, p.PayloadType, p.SequenceNumber, p.Timestamp, p.Marker) = (ssrc, pt, seq, ts, marker);
        Assert.Equal(original, bytes);
    }

    [Fact]
    public void Extension_ids_are_remapped_and_unmapped_ones_blanked_without_moving_bytes()
    {
        var bytes = OpusPacket();
        RtpPacket.TryParse(bytes, out var p);
        Span<byte> map = stackalloc byte[16];
        map[1] = 10; map[2] = 3; map[3] = 5; // 4 (mid) unmapped
        Assert.Equal(1, p.RemapExtensionIds(map));
        Assert.True(p.TryGetExtension(10, out var level));
        Assert.Equal(0xAA, level[0]);
        Assert.True(p.TryGetExtension(3, out var abs));
        Assert.Equal(3, abs.Length);
        Assert.True(p.TryGetExtension(5, out var tw));
        Assert.Equal(2, tw.Length);
        Assert.False(p.TryGetExtension(4, out _));
        Assert.Equal(new byte[] { 0xFC, 0xFF, 0xFE }, p.Payload.ToArray());
    }

    [Fact]
    public void Adding_an_extension_moves_the_payload_and_stays_parseable()
    {
        var buffer = new byte[100];
        var bytes = OpusPacket();
        bytes.CopyTo(buffer);
        RtpPacket.TryParse(buffer, bytes.Length, out var p);
        Assert.True(p.TryAddOrReplaceExtension(5, [1, 2, 3, 4]));
        Assert.True(p.TryAddOrReplaceExtension(3, [0x00, 0x09]));            // same length: in place
        Assert.True(RtpPacket.TryParse(buffer, p.Length, out var q));
        Assert.Equal(RtpExtensionForm.OneByte, q.ExtensionForm);
        Assert.True(q.TryGetExtension(5, out var five));
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, five.ToArray());
        Assert.True(q.TryGetExtension(3, out var three));
        Assert.Equal(new byte[] { 0, 9 }, three.ToArray());
        Assert.True(q.TryGetExtension(4, out var mid));
        Assert.Equal((byte)'0', mid[0]);
        Assert.Equal(new byte[] { 0xFC, 0xFF, 0xFE }, q.Payload.ToArray());

        // An id above 14 forces the two-byte form for every element.
        Assert.True(q.TryAddOrReplaceExtension(20, new byte[20]));
        Assert.True(RtpPacket.TryParse(buffer, q.Length, out var r));
        Assert.Equal(RtpExtensionForm.TwoByte, r.ExtensionForm);
        Assert.True(r.TryGetExtension(1, out var level));
        Assert.Equal(0xAA, level[0]);
        Assert.True(r.TryGetExtension(20, out var twenty));
        Assert.Equal(20, twenty.Length);
        Assert.Equal(new byte[] { 0xFC, 0xFF, 0xFE }, r.Payload.ToArray());
    }

    [Fact]
    public void Adding_an_extension_to_a_packet_without_one_and_running_out_of_room()
    {
        var buffer = new byte[22];
        var length = new RtpPacketWriter(buffer, 96, 1, 2, 3).SetPayload([9, 9]);
        RtpPacket.TryParse(buffer, length, out var p);
        Assert.Equal(RtpExtensionForm.None, p.ExtensionForm);
        Assert.True(p.TryAddOrReplaceExtension(1, [7]));
        Assert.Equal(12 + 4 + 4 + 2, p.Length);   // header, extension header, one word of elements, payload
        Assert.True(RtpPacket.TryParse(buffer, p.Length, out var q));
        Assert.True(q.TryGetExtension(1, out var v));
        Assert.Equal(7, v[0]);
        Assert.Equal(new byte[] { 9, 9 }, q.Payload.ToArray());
        var before = buffer.ToArray();
        Assert.False(q.TryAddOrReplaceExtension(2, new byte[16]));
        Assert.Equal(before, buffer);
    }

    [Fact]
    public void Rtx_round_trip_restores_the_original()
    {
        var buffer = new byte[64];
        var bytes = OpusPacket();
        bytes.CopyTo(buffer);
        RtpPacket.TryParse(buffer, bytes.Length, out var p);
        Assert.True(p.TryEncodeRtx(rtxPayloadType: 97, rtxSsrc: 0x55667788, rtxSequenceNumber: 42));
        Assert.True(RtpPacket.TryParse(buffer, p.Length, out var rtx));
        Assert.Equal(97, rtx.PayloadType);
        Assert.Equal(0x55667788u, rtx.Ssrc);
        Assert.Equal(42, rtx.SequenceNumber);
        Assert.Equal(new byte[] { 0x1F, 0x40, 0xFC, 0xFF, 0xFE }, rtx.Payload.ToArray());
        Assert.True(rtx.TryDecodeRtx(111, 0x11223344));
        Assert.Equal(bytes, buffer[..rtx.Length]);
    }

    [Fact]
    public void Writer_builds_what_the_parser_reads()
    {
        var buffer = new byte[200];
        var w = new RtpPacketWriter(buffer, 111, 65000, 0xFFFFFF00, 0xABCDEF01, marker: true);
        w.AddCsrc(77);
        w.AddExtension(1, [0x85]);
        w.AddExtension(3, [0x12, 0x34]);
        w.SetPayload([1, 2, 3, 4, 5]);
        var length = w.AddPadding(4);
        Assert.True(RtpPacket.TryParse(buffer, length, out var p));
        Assert.True(p.Marker);
        Assert.Equal(77u, p.GetCsrc(0));
        Assert.Equal(65000, p.SequenceNumber);
        Assert.Equal(4, p.PaddingLength);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, p.Payload.ToArray());
        Assert.True(p.TryGetExtension(3, out var v));
        Assert.Equal(new byte[] { 0x12, 0x34 }, v.ToArray());
        // header 12, CSRC 4, extension header 4, elements 2 + 3 padded to 8, payload 5, padding 4
        Assert.Equal(12 + 4 + 4 + 8 + 5 + 4, length);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0 })]                     // 11 bytes
    [InlineData(new byte[] { 0x40, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 })]                  // version 1
    [InlineData(new byte[] { 0x81, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 })]                  // CSRC past the end
    [InlineData(new byte[] { 0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 1 })] // extension past the end
    [InlineData(new byte[] { 0xA0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xAA, 0x00 })]       // padding count 0
    [InlineData(new byte[] { 0xA0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xAA, 0x09 })]       // padding longer than payload
    public void Malformed_packets_are_rejected(byte[] bytes) => Assert.False(RtpPacket.TryParse(bytes, out _));

    [Fact]
    public void Truncated_and_random_input_never_throws_or_reads_out_of_range()
    {
        foreach (var sample in new[] { OpusPacket(), Vp8TwoBytePacket() })
        {
            for (var n = 0; n <= sample.Length; n++) Exercise(sample.AsSpan(0, n).ToArray());
        }
        var random = new Random(20261124);
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, 80)];
            random.NextBytes(bytes);
            if (bytes.Length > 0 && random.Next(2) == 0) bytes[0] = (byte)(0x80 | (bytes[0] & 0x3F));
            Exercise(bytes);
        }

        static void Exercise(byte[] bytes)
        {
            var buffer = new byte[bytes.Length + 40];
            bytes.CopyTo(buffer, 0);
            if (!RtpPacket.TryParse(buffer, bytes.Length, out var p)) return;
            foreach (var e in p.Extensions) _ = e.Value.Length;
            _ = p.Payload.Length;
            p.RemapExtensionIds([0, 2, 1, 3, 4]);
            p.TryAddOrReplaceExtension(3, [1, 2, 3]);
            Assert.True(RtpPacket.TryParse(buffer, p.Length, out var q));
            q.TryEncodeRtx(97, 1, 2);
            q.TryDecodeRtx(96, 3);
        }
    }

    [Fact]
    public void Parsing_and_rewriting_allocates_nothing()
    {
        var buffer = new byte[200];
        OpusPacket().CopyTo(buffer, 0);
        var length = OpusPacket().Length;
        Span<byte> map = stackalloc byte[16];
        for (var i = 0; i < 16; i++) map[i] = (byte)i;
        var rounds = new SteadyStateRounds();
        for (var round = 0; round < SteadyStateRounds.Max && !rounds.Reached; round++)
        {
            rounds.Begin();
            for (var i = 0; i < 10_000; i++)
            {
                RtpPacket.TryParse(buffer, length, out var p);
                p.SequenceNumber++;
                p.Ssrc ^= 1;
                p.RemapExtensionIds(map);
                p.TryGetExtension(3, out var tw);
                RtpExtensionValues.TryWriteTransportWideSequence(tw, (ushort)i);
                p.TryAddOrReplaceExtension(3, tw);
            }
            rounds.End();
        }
        rounds.AssertReached("10,000 packets");
    }
}
