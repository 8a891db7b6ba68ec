namespace Ferry.Protocols.Tests;

public class PacketClassifierTests
{
    [Fact]
    public void Every_first_byte_maps_as_RFC_7983_says()
    {
        var datagram = new byte[32];
        for (var b = 0; b < 256; b++)
        {
            datagram[0] = (byte)b;
            datagram[1] = 96;
            var expected = b switch
            {
                <= 3 => PacketKind.Stun,
                >= 20 and <= 63 => PacketKind.Dtls,
                >= 128 and <= 191 => PacketKind.Rtp,
                _ => PacketKind.Unknown,
            };
            Assert.Equal(expected, PacketClassifier.Classify(datagram));
        }
    }

    [Theory]
    [InlineData(192, PacketKind.Rtcp)] // FIR (RFC 2032) range start
    [InlineData(200, PacketKind.Rtcp)] // SR
    [InlineData(201, PacketKind.Rtcp)] // RR
    [InlineData(205, PacketKind.Rtcp)] // RTPFB
    [InlineData(206, PacketKind.Rtcp)] // PSFB
    [InlineData(223, PacketKind.Rtcp)]
    [InlineData(224, PacketKind.Rtp)]  // marker + PT 96
    [InlineData(111, PacketKind.Rtp)]
    [InlineData(191, PacketKind.Rtp)]  // marker + PT 63
    public void Rtcp_is_told_from_rtp_by_the_second_byte(int second, PacketKind kind)
    {
        var datagram = new byte[12];
        datagram[0] = 0x80;
        datagram[1] = (byte)second;
        Assert.Equal(kind, PacketClassifier.Classify(datagram));
    }

    [Fact]
    public void Too_short_datagrams_are_unknown()
    {
        Assert.Equal(PacketKind.Unknown, PacketClassifier.Classify([]));
        Assert.Equal(PacketKind.Unknown, PacketClassifier.Classify([0x00, 0x01]));
        Assert.Equal(PacketKind.Unknown, PacketClassifier.Classify([0x80, 0x60, 0, 1]));
        Assert.Equal(PacketKind.Unknown, PacketClassifier.Classify([0x16, 0xFE, 0xFD]));
    }
}
