using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests.Transports;

/// <summary>
/// A sender's transport-wide sequence numbers stop at the server (issue 17). The router lists transport-wide-cc
/// for audio as recvonly (as mediasoup does), so an audio consumer has no such extension; when the producer
/// passed the sender's on, Chrome read it under the id its bundle uses for the SFU's numbering, and its
/// feedback gave video packets the arrival times of audio packets (up to seconds apart): false overuse.
/// </summary>
public sealed class TransportWideSequenceTests : OneRouter
{
    private const int SenderTccId = 3;


    private static ProducerOptions WithTcc(ProducerOptions options) => options with
    {
        RtpParameters = options.RtpParameters with
        {
            HeaderExtensions = [.. options.RtpParameters.HeaderExtensions!, new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.TransportWideCc01, Id = SenderTccId }],
        },
    };

    /// <summary><paramref name="packet"/> with the sender's transport-wide sequence number <paramref name="sequence"/> added.</summary>
    private static byte[] WithSequence(byte[] packet, ushort sequence)
    {
        var buffer = new byte[packet.Length + 16];
        packet.CopyTo(buffer, 0);
        Assert.True(RtpPacket.TryParse(buffer, packet.Length, out var p));
        Span<byte> value = stackalloc byte[2];
        RtpExtensionValues.TryWriteTransportWideSequence(value, sequence);
        Assert.True(p.TryAddOrReplaceExtension(SenderTccId, value));
        return buffer.AsSpan(0, p.Length).ToArray();
    }

    private static ushort? SequenceOf(byte[] rtp, int id)
    {
        if (!RtpPacket.TryParse(rtp, out var p) || !p.TryGetExtension(id, out var value)) return null;
        return RtpExtensionValues.TryReadTransportWideSequence(value, out var sequence) ? sequence : null;
    }

    [Fact]
    public async Task Consumers_never_carry_the_senders_transport_wide_sequence_numbers()
    {
        using var call = await CallAsync(_router);
        var (sendTransport, sender, recvTransport, receiver) = call;
        var audio = await sendTransport.ProduceAsync(WithTcc(OpusProducer()));
        var video = await sendTransport.ProduceAsync(WithTcc(Vp8Producer()));
        var audioConsumer = await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = audio.Id, RtpCapabilities = _router.RtpCapabilities });
        var videoConsumer = await recvTransport.ConsumeAsync(new ConsumerOptions { ProducerId = video.Id, RtpCapabilities = _router.RtpCapabilities });
        var routerTccId = _router.RtpCapabilities.HeaderExtensions!.First(h => h.Uri == RtpHeaderExtensionUris.TransportWideCc01).PreferredId;
        var videoTccId = videoConsumer.RtpParameters.HeaderExtensions!.Single(h => h.Uri == RtpHeaderExtensionUris.TransportWideCc01).Id;
        Assert.DoesNotContain(audioConsumer.RtpParameters.HeaderExtensions ?? [], h => h.Uri == RtpHeaderExtensionUris.TransportWideCc01);

        // The sender's numbering runs far from the server's, as a browser's does after a while.
        ushort senderSequence = 40000;
        for (var i = 0; i < 10; i++)
        {
            sender.SendRtp(WithSequence(OpusPacket(33333333, (ushort)(100 + i), (uint)(i * 960), number: i, mid: "1"), senderSequence++));
            sender.SendRtp(WithSequence(Vp8Packet(11111111, (ushort)(500 + i), (uint)(i * 3000), keyFrame: i == 0, number: i, mid: "0"), senderSequence++));
        }
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => receiver.ReceivedRtp.Count >= 20, WaitTimeout));

        var received = receiver.ReceivedRtp.ToArray();
        var audioPackets = received.Where(p => RtpPacket.TryParse(p, out var r) && r.Ssrc == audioConsumer.RtpParameters.Encodings![0].Ssrc).ToArray();
        var videoPackets = received.Where(p => RtpPacket.TryParse(p, out var r) && r.Ssrc == videoConsumer.RtpParameters.Encodings![0].Ssrc).ToArray();
        Assert.Equal(10, audioPackets.Length);
        Assert.Equal(10, videoPackets.Length);
        // Audio goes without one: under the router's id it would be the sender's number in the SFU's space.
        Assert.All(audioPackets, p => Assert.Null(SequenceOf(p, routerTccId)));
        // Video carries the receiving transport's own numbering, one per packet it sent, none of the sender's.
        var sequences = videoPackets.Select(p => SequenceOf(p, videoTccId)).ToArray();
        Assert.All(sequences, s => Assert.NotNull(s));
        Assert.All(sequences, s => Assert.True(s < 40000, $"video carries sender's number {s}"));
        Assert.Equal(sequences.Length, sequences.Distinct().Count());
    }
}
