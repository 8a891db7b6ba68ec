using Ferry.Protocols.Srtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Transports;

/// <summary>
/// Issue 16, finding 11: per-SSRC SRTP state lives as long as the stream that needs it. A closed
/// consumer's or producer's SSRCs leave the transport's sessions; a peer making SSRCs up fills the
/// receiving session to its bound and no further, and the streams in use keep their state.
/// </summary>
public sealed class SrtpStreamStateTests : OneRouter
{
    [Fact]
    public async Task Srtp_state_goes_with_the_streams_and_sprayed_ssrcs_stay_bounded()
    {
        using var call = await CallAsync(_router);
        var (sendTransport, sender, recvTransport, receiver) = call;
        var producer = await sendTransport.ProduceAsync(Vp8Producer());
        var consumer = await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        ushort seq = 1000;
        void SendFrames(int count)
        {
            for (var i = 0; i < count; i++, seq++)
                sender.SendRtp(Vp8Packet(11111111, seq, seq * 3000u, keyFrame: seq == 1000, number: seq, mid: "0"));
        }
        SendFrames(30);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 30, WaitTimeout));
        Assert.Contains(11111111u, (await sendTransport.InvokeAsync(sendTransport.SrtpSsrcs)).Receive);
        Assert.Contains(consumer.Ssrc, (await recvTransport.InvokeAsync(recvTransport.SrtpSsrcs)).Send);

        // A peer making SSRCs up (authenticated, none claimed), in batches the socket buffer holds.
        var random = new Random(5);
        var droppedBefore = sendTransport.RtpPacketsDropped + sendTransport.SrtpFailures;
        const int Sprayed = SrtpSession.DefaultMaxStreams + 1_000;
        for (var sent = 0; sent < Sprayed;)
        {
            for (var i = 0; i < 500 && sent < Sprayed; i++, sent++)
                sender.SendRtp(Vp8Packet((uint)random.NextInt64(1, uint.MaxValue), (ushort)i, (uint)i, keyFrame: false, number: i));
            var expected = droppedBefore + sent;
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => sendTransport.RtpPacketsDropped + sendTransport.SrtpFailures >= expected, WaitTimeout),
                $"dropped {sendTransport.RtpPacketsDropped + sendTransport.SrtpFailures - droppedBefore} of {sent}");
        }
        var receive = (await sendTransport.InvokeAsync(sendTransport.SrtpSsrcs)).Receive;
        Assert.True(receive.Length <= SrtpSession.DefaultMaxStreams, $"{receive.Length} SSRCs with state");
        // The producer's stream kept its state (it was never the one to make room) and still flows.
        Assert.Contains(11111111u, receive);
        var before = receiver.ReceivedRtp.Count;
        SendFrames(10);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= before + 10, WaitTimeout));

        // A consumer that closes takes its SSRCs out of the sending session.
        await consumer.CloseAsync();
        var recvSend = (await recvTransport.InvokeAsync(recvTransport.SrtpSsrcs)).Send;
        Assert.DoesNotContain(consumer.Ssrc, recvSend);
        if (consumer.RtxSsrc is { } rtx) Assert.DoesNotContain(rtx, recvSend);

        // A producer that closes takes its SSRCs out of the receiving session.
        await producer.CloseAsync();
        Assert.DoesNotContain(11111111u, (await sendTransport.InvokeAsync(sendTransport.SrtpSsrcs)).Receive);
    }
}
