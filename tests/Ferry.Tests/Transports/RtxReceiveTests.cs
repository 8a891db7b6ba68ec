using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Transports;

/// <summary>
/// RTX arriving at a producer (issue 17): Chrome pads simulcast streams and probes with RTX resends of
/// packets it already sent. Only a retransmission of a packet the server asked for repairs anything; any
/// other is dropped, counted in neither the stream's bytes nor its layer bitrate, and never forwarded
/// (a receiver's SRTP would drop the duplicate, and its transport-cc feedback would report it lost).
/// </summary>
public sealed class RtxReceiveTests : OneRouter
{
    private const uint MediaSsrc = 11111111;
    private const uint RtxSsrc = 22222222;
    private const byte RtxPayloadType = 97;

    /// <summary>The RTX form of media packet <paramref name="seq"/> (as Chrome sends it, on the RTX SSRC).</summary>
    private static byte[] RtxOf(ushort seq, int number, ushort rtxSeq)
    {
        var media = Vp8Packet(MediaSsrc, seq, (uint)(seq * 3000), keyFrame: false, number: number, mid: "0");
        var buffer = new byte[media.Length + 16];
        media.CopyTo(buffer, 0);
        Assert.True(RtpPacket.TryParse(buffer, media.Length, out var packet));
        Assert.True(packet.TryEncodeRtx(RtxPayloadType, RtxSsrc, rtxSeq));
        return buffer.AsSpan(0, packet.Length).ToArray();
    }

    private static int NumberOf(byte[] packet)
    {
        RtpPacket.TryParse(packet, out var p);
        return BitConverter.ToInt32(p.Payload[4..]);
    }

    private static bool Nacks(byte[] rtcp, ushort seq)
    {
        var e = new RtcpCompoundEnumerator(rtcp);
        Span<ushort> lost = stackalloc ushort[64];
        while (e.MoveNext())
        {
            if (e.Current.Type != RtcpPacketType.TransportFeedback || !GenericNack.TryParse(e.Current, out _, out var ssrc) || ssrc != MediaSsrc) continue;
            var n = GenericNack.ReadLost(e.Current, lost);
            for (var i = 0; i < n; i++) if (lost[i] == seq) return true;
        }
        return false;
    }

    [Fact]
    public async Task A_retransmission_nobody_asked_for_is_dropped_and_not_counted_in_the_layer_bitrate()
    {
        using var call = await CallAsync(_router);
        var (sendTransport, sender, recvTransport, receiver) = call;
        var producer = await sendTransport.ProduceAsync(Vp8Producer(MediaSsrc, RtxSsrc));
        await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        long mediaBytes = 0;
        for (var i = 0; i < 10; i++)
        {
            var packet = Vp8Packet(MediaSsrc, (ushort)(500 + i), (uint)((500 + i) * 3000), keyFrame: i == 0, number: i, mid: "0");
            mediaBytes += packet.Length;
            sender.SendRtp(packet);
        }
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 10, WaitTimeout));

        // Padding as Chrome sends it: resends of packets the server already has, many times over.
        ushort rtxSeq = 100;
        long paddingBytes = 0;
        for (var round = 0; round < 5; round++)
        {
            for (var i = 2; i < 8; i++)
            {
                var rtx = RtxOf((ushort)(500 + i), i, rtxSeq++);
                paddingBytes += rtx.Length;
                sender.SendRtp(rtx);
            }
        }
        // One more media packet behind them: once it arrived, the resends before it were handled.
        var last = Vp8Packet(MediaSsrc, 510, 510 * 3000, keyFrame: false, number: 10, mid: "0");
        mediaBytes += last.Length;
        sender.SendRtp(last);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 11, WaitTimeout));

        Assert.Equal(Enumerable.Range(0, 11), receiver.ReceivedRtp.Select(NumberOf));
        var stats = Assert.Single(await producer.GetStatsAsync());
        Assert.Equal(11, stats.PacketCount);
        Assert.Equal(mediaBytes, stats.ByteCount);
        Assert.Equal(0, stats.PacketsRepaired);
        Assert.Equal(30, stats.RtxPacketsDiscarded);
        // What the sender spent on them, counted apart: media and padding together are what it sent.
        Assert.Equal(paddingBytes, stats.RtxBytesDiscarded);
        // The layer's price in the bandwidth allocation is what the media alone costs.
        var layerBytes = await sendTransport.InvokeAsync(() => producer.Streams[0].Layers.WindowBytes(LayerBitrateMeter.Layers - 1, sendTransport.Loop.Now));
        Assert.True(layerBytes <= mediaBytes, $"the layer meter counts {layerBytes} bytes, more than the {mediaBytes} of media");
    }

    [Fact]
    public async Task A_retransmission_the_server_asked_for_repairs_the_stream_and_is_forwarded_once()
    {
        using var call = await CallAsync(_router);
        var (sendTransport, sender, recvTransport, receiver) = call;
        var producer = await sendTransport.ProduceAsync(Vp8Producer(MediaSsrc, RtxSsrc));
        await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        for (var i = 0; i < 10; i++)
        {
            if (i == 5) continue;
            sender.SendRtp(Vp8Packet(MediaSsrc, (ushort)(500 + i), (uint)((500 + i) * 3000), keyFrame: i == 0, number: i, mid: "0"));
        }
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 9, WaitTimeout));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sender.ReceivedRtcp.Any(r => Nacks(r, 505)), WaitTimeout), "no NACK for the missing packet");

        sender.SendRtp(RtxOf(505, 5, 1));
        // The same repair again (a sender answering two NACKs of one packet): it repairs nothing the second time.
        sender.SendRtp(RtxOf(505, 5, 2));
        sender.SendRtp(Vp8Packet(MediaSsrc, 510, 510 * 3000, keyFrame: false, number: 10, mid: "0"));
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 11, WaitTimeout));

        Assert.Equal([0, 1, 2, 3, 4, 6, 7, 8, 9, 5, 10], receiver.ReceivedRtp.Select(NumberOf));
        var stats = Assert.Single(await producer.GetStatsAsync());
        Assert.Equal(11, stats.PacketCount);
        Assert.Equal(1, stats.PacketsRepaired);
        Assert.Equal(1, stats.RtxPacketsDiscarded);
        Assert.Equal(0, stats.PacketsLost);
    }
}
