using System.Buffers.Binary;
using Ferry.Protocols.Sctp;

namespace Ferry.Protocols.Tests.Sctp;

public class SctpPacketTests
{
    // RFC 3720 Appendix B.4 (iSCSI's CRC-32C examples, the same CRC as SCTP's RFC 9260 Appendix A):
    // the CRC as a number; the RFC lists its bytes least significant first.
    [Theory]
    [InlineData("zeros", 0x8A9136AAu)]
    [InlineData("ones", 0x62A8AB43u)]
    [InlineData("incrementing", 0x46DD794Eu)]
    [InlineData("decrementing", 0x113FDB5Cu)]
    public void Crc32c_matches_rfc_3720_examples(string pattern, uint expected)
    {
        var data = new byte[32];
        for (var i = 0; i < 32; i++)
        {
            data[i] = pattern switch
            {
                "zeros" => 0,
                "ones" => 0xFF,
                "incrementing" => (byte)i,
                _ => (byte)(31 - i),
            };
        }
        Assert.Equal(expected, Crc32c.Compute(data));
    }

    [Fact]
    public void Crc32c_check_value_and_incremental_update()
    {
        // The CRC catalogue's check value for CRC-32/ISCSI (CRC-32C): "123456789".
        var data = "123456789"u8.ToArray();
        Assert.Equal(0xE3069283u, Crc32c.Compute(data));
        var crc = Crc32c.Update(0xFFFFFFFF, data.AsSpan(0, 3));
        crc = Crc32c.Update(crc, data.AsSpan(3));
        Assert.Equal(0xE3069283u, ~crc);
        Assert.Equal(0u, Crc32c.Compute([]));
    }

    // An INIT from Scapy's SCTP regression tests (test/scapy/layers/sctp.uts, "SCTP - Chunk Init - build"):
    // ports 0, tag 0, an INIT with every field zero and one IPv4 address parameter 127.0.0.1; Scapy
    // (and Wireshark) read its checksum field 40 2c 0b 5f as valid.
    private static readonly byte[] ScapyInit =
    [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x2C, 0x0B, 0x5F,
        0x01, 0x00, 0x00, 0x1C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x08,
        0x7F, 0x00, 0x00, 0x01,
    ];

    [Fact]
    public void A_published_packet_passes_the_checksum_and_parses()
    {
        Assert.Equal(SctpParseResult.Ok, SctpPacket.TryParse(ScapyInit, out var packet));
        Assert.Equal(0, packet.SourcePort);
        Assert.Equal(0u, packet.VerificationTag);
        var chunks = packet.Chunks;
        Assert.True(chunks.MoveNext());
        Assert.Equal(SctpChunkType.Init, chunks.Current.Type);
        Assert.Equal(24, chunks.Current.Value.Length);
        var parameters = new SctpTlvEnumerator(chunks.Current.Value[16..]);
        Assert.True(parameters.MoveNext());
        Assert.Equal(5, parameters.Type);
        Assert.Equal([127, 0, 0, 1], parameters.Value.ToArray());
        Assert.False(chunks.MoveNext());
        Assert.False(chunks.IsMalformed);

        // Rebuilt with the writer: byte for byte the same, checksum included.
        var buffer = new byte[64];
        var writer = new SctpPacketWriter(buffer, 0, 0, 0);
        Assert.True(writer.TryAddChunk(SctpChunkType.Init, 0, ScapyInit.AsSpan(16)));
        Assert.Equal(ScapyInit, buffer[..writer.Finish()]);
    }

    [Fact]
    public void Every_single_bit_flip_fails_the_checksum()
    {
        for (var bit = 0; bit < ScapyInit.Length * 8; bit++)
        {
            var copy = (byte[])ScapyInit.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.Equal(SctpParseResult.BadChecksum, SctpPacket.TryParse(copy, out _));
        }
        Assert.Equal(SctpParseResult.TooShort, SctpPacket.TryParse(ScapyInit.AsSpan(0, 11), out _));
    }

    [Fact]
    public void Writer_pads_chunks_and_refuses_what_does_not_fit()
    {
        var buffer = new byte[32];
        var writer = new SctpPacketWriter(buffer, 5000, 5000, 0x01020304);
        Assert.True(writer.TryAddChunk(SctpChunkType.Heartbeat, 0, [0, 1, 0, 5, 9]));
        Assert.Equal(12 + 12, writer.Length);
        Assert.False(writer.TryAddChunk(SctpChunkType.Heartbeat, 0, [1, 2, 3, 4, 5]));   // 12 more bytes do not fit in 8
        Assert.True(writer.TryAddChunk(SctpChunkType.CookieAck, 0, []));
        var length = writer.Finish();
        Assert.Equal(SctpParseResult.Ok, SctpPacket.TryParse(buffer.AsSpan(0, length), out var packet));
        Assert.Equal(0x01020304u, packet.VerificationTag);
        var types = new List<byte>();
        foreach (var c in packet.Chunks) types.Add(c.Type);
        Assert.Equal([SctpChunkType.Heartbeat, SctpChunkType.CookieAck], types);
        Assert.Equal(0, buffer[12 + 4 + 5]);   // the pad is zero
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 3 })]                  // length below 4
    [InlineData(new byte[] { 0, 0, 0, 20, 1, 2, 3, 4 })]     // length past the end
    [InlineData(new byte[] { 0, 0, 0 })]                     // a partial chunk header
    public void Malformed_chunk_headers_stop_the_walk(byte[] chunks)
    {
        var e = new SctpChunkEnumerator(chunks);
        Assert.False(e.MoveNext());
        Assert.True(e.IsMalformed);
    }

    [Fact]
    public void A_last_chunk_without_padding_is_accepted()
    {
        byte[] chunks = [SctpChunkType.Shutdown, 0, 0, 8, 1, 2, 3, 4, SctpChunkType.Data, 3, 0, 17, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 51, 0x41];
        var e = new SctpChunkEnumerator(chunks);
        Assert.True(e.MoveNext());
        Assert.True(e.MoveNext());
        Assert.Equal(13, e.Current.Value.Length);
        Assert.False(e.MoveNext());
        Assert.False(e.IsMalformed);
    }

    [Fact]
    public void Random_and_truncated_headers_never_throw()
    {
        var random = new Random(9260);
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            var e = new SctpChunkEnumerator(bytes);
            while (e.MoveNext()) _ = e.Current.Value.Length;
            var t = new SctpTlvEnumerator(bytes);
            while (t.MoveNext()) _ = t.Value.Length;
            if (bytes.Length >= 12)
            {
                SctpPacket.WriteChecksum(bytes);
                Assert.Equal(SctpParseResult.Ok, SctpPacket.TryParse(bytes, out _));
            }
        }
    }

    [Fact]
    public void Checksum_is_stored_least_significant_byte_first()
    {
        // The CRC value 0x5F0B2C40 goes on the wire as 40 2C 0B 5F.
        Assert.Equal(0x5F0B2C40u, SctpPacket.ComputeChecksum(ScapyInit));
    }
}
