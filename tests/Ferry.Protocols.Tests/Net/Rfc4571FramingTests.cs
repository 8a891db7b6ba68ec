using Ferry.Protocols.Net;

namespace Ferry.Protocols.Tests.Net;

public class Rfc4571FramingTests
{
    [Fact]
    public void A_frame_is_its_big_endian_length_then_the_packet()
    {
        // LENGTH 0x0003, then three bytes of packet, then the first byte of the next header.
        byte[] stream = [0x00, 0x03, 0xAA, 0xBB, 0xCC, 0x00];
        Assert.Equal(FrameReadResult.Frame, Rfc4571Framing.TryReadFrame(stream, 1500, out var length));
        Assert.Equal(3, length);
        Assert.Equal(new byte[] { 0xAA, 0xBB, 0xCC }, stream[2..(2 + length)]);
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x01 })]
    [InlineData(new byte[] { 0x00, 0x04, 1, 2, 3 })]
    public void A_partial_header_or_packet_needs_more(byte[] stream) =>
        Assert.Equal(FrameReadResult.NeedMore, Rfc4571Framing.TryReadFrame(stream, 1500, out _));

    [Fact]
    public void Length_zero_and_lengths_over_the_limit_are_refused_before_their_bytes_arrive()
    {
        Assert.Equal(FrameReadResult.EmptyFrame, Rfc4571Framing.TryReadFrame([0x00, 0x00], 1500, out _));
        Assert.Equal(FrameReadResult.Oversized, Rfc4571Framing.TryReadFrame([0x05, 0xDD], 1500, out var length));
        Assert.Equal(1501, length);
        Assert.Equal(FrameReadResult.NeedMore, Rfc4571Framing.TryReadFrame([0x05, 0xDC], 1500, out _));
        Assert.Equal(FrameReadResult.Oversized, Rfc4571Framing.TryReadFrame([0xFF, 0xFF], 1500, out _));
    }

    [Fact]
    public void The_header_is_written_big_endian_and_bounded_by_16_bits()
    {
        var header = new byte[2];
        Rfc4571Framing.WriteHeader(header, 1234);
        Assert.Equal(new byte[] { 0x04, 0xD2 }, header);
        Rfc4571Framing.WriteHeader(header, 65535);
        Assert.Equal(new byte[] { 0xFF, 0xFF }, header);
        Assert.Throws<ArgumentOutOfRangeException>(() => Rfc4571Framing.WriteHeader(header, 65536));
    }
}
