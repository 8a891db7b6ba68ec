using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;

namespace Ferry.Tests.Transports;

/// <summary>Routers, transports and RTP packets shared by the media tests.</summary>
internal static class MediaFixtures
{
    public static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(10);

    public static RouterOptions DefaultRouterOptions => new()
    {
        MediaCodecs =
        [
            new RtpCodecCapability { Kind = MediaKind.Audio, MimeType = "audio/opus", ClockRate = 48000, Channels = 2 },
            new RtpCodecCapability { Kind = MediaKind.Video, MimeType = "video/VP8", ClockRate = 90000 },
        ],
    };

    public static WebRtcTransportOptions Loopback => new() { ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }] };

    /// <summary>A UDP and a TCP (ICE-TCP passive) candidate on 127.0.0.1, UDP preferred.</summary>
    public static WebRtcTransportOptions LoopbackUdpAndTcp => new()
    {
        ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }, new TransportListenInfo { Ip = "127.0.0.1", Protocol = TransportProtocolName.Tcp }],
    };

    /// <summary>A VP8 producer as Chrome's mediasoup-client sends it: PT 96, RTX 97, mid, one SSRC with RTX.</summary>
    public static ProducerOptions Vp8Producer(uint ssrc = 11111111, uint rtxSsrc = 22222222, string mid = "0") => new()
    {
        Kind = MediaKind.Video,
        RtpParameters = new RtpParameters
        {
            Mid = mid,
            Codecs =
            [
                new RtpCodecParameters
                {
                    MimeType = "video/VP8", PayloadType = 96, ClockRate = 90000,
                    RtcpFeedback = [new RtcpFeedback { Type = "nack" }, new RtcpFeedback { Type = "nack", Parameter = "pli" }, new RtcpFeedback { Type = "ccm", Parameter = "fir" }],
                },
                new RtpCodecParameters
                {
                    MimeType = "video/rtx", PayloadType = 97, ClockRate = 90000,
                    Parameters = new Dictionary<string, CodecParameterValue> { ["apt"] = 96 },
                },
            ],
            HeaderExtensions =
            [
                new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.Mid, Id = 4 },
                new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.AbsSendTime, Id = 2 },
            ],
            Encodings = [new RtpEncodingParameters { Ssrc = ssrc, Rtx = new RtxParameters { Ssrc = rtxSsrc } }],
            Rtcp = new RtcpParameters { Cname = "client-a" },
        },
    };

    /// <summary>An Opus producer (with <paramref name="audioLevelId"/>, sending ssrc-audio-level under that id: what audio-level observers read).</summary>
    public static ProducerOptions OpusProducer(uint ssrc = 33333333, string mid = "1", int? audioLevelId = null) => new()
    {
        Kind = MediaKind.Audio,
        RtpParameters = new RtpParameters
        {
            Mid = mid,
            Codecs = [new RtpCodecParameters { MimeType = "audio/opus", PayloadType = 111, ClockRate = 48000, Channels = 2 }],
            HeaderExtensions = audioLevelId is { } levelId
                ? [new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.Mid, Id = 4 }, new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.SsrcAudioLevel, Id = levelId }]
                : [new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.Mid, Id = 4 }],
            Encodings = [new RtpEncodingParameters { Ssrc = ssrc }],
            Rtcp = new RtcpParameters { Cname = "client-a" },
        },
    };

    /// <summary>A VP8 packet; a key frame when <paramref name="keyFrame"/> (S=1, partition 0, P=0), numbered in its payload.</summary>
    public static byte[] Vp8Packet(uint ssrc, ushort seq, uint timestamp, bool keyFrame, int number, byte pt = 96, string? mid = null, int midId = 4)
    {
        var buffer = new byte[1500];
        var w = new RtpPacketWriter(buffer, pt, seq, timestamp, ssrc, marker: true);
        if (mid is not null) w.AddExtension(midId, System.Text.Encoding.ASCII.GetBytes(mid));
        var payload = new byte[200];
        payload[0] = 0x10; // VP8 descriptor: S=1, PartID 0
        payload[1] = keyFrame ? (byte)0x00 : (byte)0x01; // VP8 payload header: P bit
        BitConverter.TryWriteBytes(payload.AsSpan(4), number);
        var length = w.SetPayload(payload);
        return buffer[..length];
    }

    /// <summary>A simulcast VP8 producer with one L1T3 encoding per SSRC in <paramref name="ssrcs"/> (no RTX).</summary>
    public static ProducerOptions SimulcastVp8Producer(params uint[] ssrcs)
    {
        var options = Vp8Producer();
        return options with
        {
            RtpParameters = options.RtpParameters with
            {
                Encodings = ssrcs.Select(s => new RtpEncodingParameters { Ssrc = s, ScalabilityMode = "L1T3" }).ToList(),
            },
        };
    }

    /// <summary>
    /// A one-packet VP8 frame with the full descriptor (RFC 7741: X, I with a 15-bit PictureID, L, T with
    /// TID and Y), MID "0", and <paramref name="number"/> after the VP8 payload header.
    /// </summary>
    public static byte[] Vp8FramePacket(uint ssrc, ushort seq, uint timestamp, bool keyFrame, int temporalLayer, bool layerSync, int pictureId, byte tl0PicIdx, int number)
    {
        var buffer = new byte[400];
        var w = new RtpPacketWriter(buffer, 96, seq, timestamp, ssrc, marker: true);
        w.AddExtension(4, "0"u8);
        var payload = new byte[64];
        payload[0] = 0x90;                                                   // X=1, S=1, PartID 0
        payload[1] = 0xE0;                                                   // I=1, L=1, T=1
        payload[2] = (byte)(0x80 | (pictureId >> 8) & 0x7F);                 // M=1, PictureID high
        payload[3] = (byte)pictureId;
        payload[4] = tl0PicIdx;
        payload[5] = (byte)(temporalLayer << 6 | (layerSync ? 0x20 : 0));    // TID, Y
        payload[6] = keyFrame ? (byte)0x00 : (byte)0x01;                     // VP8 payload header: P bit
        BitConverter.TryWriteBytes(payload.AsSpan(8), number);
        return buffer[..w.SetPayload(payload)];
    }

    /// <summary>What a receiver reads from a packet built by <see cref="Vp8FramePacket"/> after the server rewrote it.</summary>
    public static (ushort Seq, int PictureId, int Tl0, int Tid, bool Sync, int Number) ReadVp8Frame(byte[] rtp)
    {
        Assert.True(RtpPacket.TryParse(rtp, out var p));
        Assert.True(Ferry.Protocols.Codecs.Vp8PayloadDescriptor.TryParse(p.Payload, out var d));
        return (p.SequenceNumber, d.PictureId, d.Tl0PicIdx, d.TemporalLayerId, d.IsLayerSync, BitConverter.ToInt32(p.Payload[8..]));
    }

    /// <summary>
    /// Asserts that picture ids go up by one per packet (15 bits) and TL0PICIDX by one exactly at each
    /// temporal layer 0 frame (8 bits): what a receiver needs to see no missing frame.
    /// </summary>
    public static void AssertContinuousPictures(IReadOnlyList<(ushort Seq, int PictureId, int Tl0, int Tid, bool Sync, int Number)> frames)
    {
        for (var i = 1; i < frames.Count; i++)
        {
            Assert.True((frames[i - 1].PictureId + 1) % 0x8000 == frames[i].PictureId, $"picture id {frames[i - 1].PictureId} then {frames[i].PictureId} at {i}");
            var expectedTl0 = frames[i].Tid == 0 ? (frames[i - 1].Tl0 + 1) % 256 : frames[i - 1].Tl0;
            Assert.True(expectedTl0 == frames[i].Tl0, $"TL0PICIDX {frames[i - 1].Tl0} then {frames[i].Tl0} (tid {frames[i].Tid}) at {i}");
            Assert.Equal((ushort)(frames[i - 1].Seq + 1), frames[i].Seq);
        }
    }

    /// <summary>
    /// <paramref name="capabilities"/> without transport-wide-cc and abs-send-time: an endpoint that sends no
    /// congestion feedback, so its transport runs no bandwidth allocation and its simulcast consumers follow
    /// their preferred layers only (for tests about something else that send in bursts).
    /// </summary>
    public static RtpCapabilities WithoutCongestionFeedback(RtpCapabilities capabilities) => capabilities with
    {
        HeaderExtensions = capabilities.HeaderExtensions!
            .Where(h => h.Uri is not (RtpHeaderExtensionUris.TransportWideCc01 or RtpHeaderExtensionUris.AbsSendTime)).ToList(),
    };

    /// <summary>Whether the RTCP compound holds a PLI for <paramref name="mediaSsrc"/>.</summary>
    public static bool ContainsPli(byte[] rtcp, uint mediaSsrc)
    {
        var e = new RtcpCompoundEnumerator(rtcp);
        while (e.MoveNext())
        {
            if (e.Current.Type == RtcpPacketType.PayloadFeedback && e.Current.Count == 1 && PictureLossIndication.TryParse(e.Current, out _, out var ssrc) && ssrc == mediaSsrc) return true;
        }
        return false;
    }

    /// <summary>An Opus packet numbered in its payload.</summary>
    public static byte[] OpusPacket(uint ssrc, ushort seq, uint timestamp, int number, string? mid = null, int midId = 4, (int Id, byte Level)? audioLevel = null)
    {
        var buffer = new byte[1500];
        var w = new RtpPacketWriter(buffer, 111, seq, timestamp, ssrc, marker: false);
        if (mid is not null) w.AddExtension(midId, System.Text.Encoding.ASCII.GetBytes(mid));
        // RFC 6464: the voice bit and the level in -dBov.
        if (audioLevel is { } level) w.AddExtension(level.Id, [(byte)(0x80 | level.Level)]);
        var payload = new byte[80];
        payload[0] = 0x78; // an Opus TOC byte (SILK-only 20 ms, mono), payload not decoded by the server
        BitConverter.TryWriteBytes(payload.AsSpan(4), number);
        var length = w.SetPayload(payload);
        return buffer[..length];
    }

    /// <summary>The number written by <see cref="Vp8Packet"/>.</summary>
    public static int NumberOf(byte[] rtp)
    {
        RtpPacket.TryParse(rtp, out var p);
        return BitConverter.ToInt32(p.Payload[4..]);
    }

    /// <summary>Two connected WebRtcTransports of <paramref name="router"/> and their clients: one to send, one to receive.</summary>
    public static async Task<Call> CallAsync(Router router)
    {
        var (sendTransport, sender) = await ConnectedAsync(router);
        var (recvTransport, receiver) = await ConnectedAsync(router);
        return new Call(sendTransport, sender, recvTransport, receiver);
    }

    /// <summary>What <see cref="CallAsync"/> sets up; disposing it disposes both clients.</summary>
    public sealed record Call(WebRtcTransport SendTransport, WebRtcTestClient Sender, WebRtcTransport RecvTransport, WebRtcTestClient Receiver) : IDisposable
    {
        public void Dispose()
        {
            Sender.Dispose();
            Receiver.Dispose();
        }
    }

    /// <summary>A connected WebRtcTransport and its client.</summary>
    public static Task<(WebRtcTransport Transport, WebRtcTestClient Client)> ConnectedAsync(Router router) =>
        ConnectedAsync(router, Loopback, TransportProtocolName.Udp);

    /// <summary>A WebRtcTransport created with <paramref name="options"/> and a client connected to it over <paramref name="protocol"/>.</summary>
    public static async Task<(WebRtcTransport Transport, WebRtcTestClient Client)> ConnectedAsync(Router router, WebRtcTransportOptions options, TransportProtocolName protocol)
    {
        var transport = await router.CreateWebRtcTransportAsync(options);
        var client = new WebRtcTestClient(protocol: protocol);
        await transport.ConnectAsync(client.DtlsParameters);
        await client.ConnectAsync(transport.IceParameters, transport.IceCandidates, transport.DtlsParameters, WaitTimeout);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => transport.DtlsState == DtlsStateName.Connected, WaitTimeout));
        return (transport, client);
    }
}
