using System.Diagnostics;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Media;

/// <summary>
/// Rehearses a call's moves once at start, before any peer joins: two peers' worth of transports,
/// producers and consumers in a router pair on two workers, every transport moved to the other worker
/// and back, then the router, then everything closed. A handover runs with the loops involved parked,
/// so code compiled on first use inside it stands media still: without this the first real moves took
/// 3–13 ms (the second send transport's move the longest), later ones ~0.1 ms. Ahead-of-time
/// preparation of the mobility types (<c>MobilityWarmup</c> in the engine) missed those paths: generic
/// instantiations, closures, the first replica removal.
/// </summary>
internal static class MoveWarmup
{
    /// <summary>Runs the rehearsal on the first two workers (nothing to do with one); failures are logged, never thrown.</summary>
    public static async Task RunAsync(IReadOnlyList<Worker> workers, IReadOnlyList<RtpCodecCapability> codecs, ILogger logger)
    {
        if (workers.Count < 2) return;
        var clock = Stopwatch.StartNew();
        Router? a = null, b = null;
        try
        {
            a = await workers[0].CreateRouterAsync(new RouterOptions { MediaCodecs = codecs });
            b = await workers[1].CreateRouterAsync(new RouterOptions { MediaCodecs = codecs });
            var transports = new List<WebRtcTransport>();
            var producers = new List<Producer>();
            for (var peer = 0; peer < 2; peer++)
            {
                var send = await a.CreateWebRtcTransportAsync(Loopback);
                transports.Add(send);
                producers.Add(await send.ProduceAsync(Producer(MediaKind.Audio, (uint)(1000 + 10 * peer), "0")));
                producers.Add(await send.ProduceAsync(Producer(MediaKind.Video, (uint)(2000 + 10 * peer), "1")));
            }
            for (var peer = 0; peer < 2; peer++)
            {
                var receive = await a.CreateWebRtcTransportAsync(Loopback);
                transports.Add(receive);
                // Each peer receives the other's producers.
                foreach (var producer in producers.Where(p => p.Transport != transports[peer]))
                    await receive.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = a.RtpCapabilities });
            }
            for (var round = 0; round < 2; round++)
            {
                foreach (var transport in transports)
                    await transport.MoveToAsync(transport.Router == a ? b : a);
            }
            await a.MoveToAsync(workers[1]);
            await a.MoveToAsync(workers[0]);
            logger.LogDebug("moves rehearsed in {Milliseconds} ms", clock.ElapsedMilliseconds);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "the rehearsal of moves failed; the first real moves may take longer");
        }
        finally
        {
            if (b is not null) await b.CloseAsync();
            if (a is not null) await a.CloseAsync();
        }
    }

    private static WebRtcTransportOptions Loopback => new() { ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }] };

    /// <summary>A producer shaped as a browser's: the codec, mid and transport-wide sequence extensions.</summary>
    private static ProducerOptions Producer(MediaKind kind, uint ssrc, string mid) => new()
    {
        Kind = kind,
        RtpParameters = new RtpParameters
        {
            Mid = mid,
            Codecs =
            [
                kind == MediaKind.Audio
                    ? new RtpCodecParameters { MimeType = "audio/opus", PayloadType = 111, ClockRate = 48000, Channels = 2 }
                    : new RtpCodecParameters { MimeType = "video/VP8", PayloadType = 96, ClockRate = 90000, RtcpFeedback = [new RtcpFeedback { Type = "nack" }, new RtcpFeedback { Type = "nack", Parameter = "pli" }] },
            ],
            HeaderExtensions =
            [
                new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.Mid, Id = 4 },
                new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.TransportWideCc01, Id = 5 },
            ],
            Encodings = [new RtpEncodingParameters { Ssrc = ssrc }],
            Rtcp = new RtcpParameters { Cname = "warmup" },
        },
    };
}
