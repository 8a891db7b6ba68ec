using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;

namespace Ferry.Ortc;

/// <summary>
/// mediasoup's ORTC rules for producers and consumers (ortc.ts): the producer's mapping into the
/// router's id space, the router-normalised "consumable" parameters, and the parameters a consumer
/// gets for a remote endpoint's capabilities or for a pipe.
/// </summary>
public static class RtpParametersNegotiation
{
    private static readonly string[] PipeDroppedExtensions = [RtpHeaderExtensionUris.Mid, RtpHeaderExtensionUris.AbsSendTime, RtpHeaderExtensionUris.TransportWideCc01];

    /// <summary>A random SSRC in mediasoup's range [100000000, 999999999).</summary>
    public static uint RandomSsrc() => (uint)Random.Shared.Next(100_000_000, 999_999_999);

    private static bool IsRtx(string mimeType) => mimeType.EndsWith("/rtx", StringComparison.OrdinalIgnoreCase);

    private static int? Apt(IReadOnlyDictionary<string, CodecParameterValue>? parameters) =>
        parameters is not null && parameters.TryGetValue("apt", out var v) && v.TryGetInt(out var apt) ? apt : null;

    /// <summary>Maps a producer's codecs and encodings into the router's (getProducerRtpParametersMapping).</summary>
    /// <exception cref="UnsupportedException">A codec the router does not have.</exception>
    /// <exception cref="ArgumentException">An RTX codec without its media codec.</exception>
    public static RtpMapping GetProducerMapping(RtpParameters parameters, RtpCapabilities routerCapabilities, uint? firstMappedSsrc = null)
    {
        var routerCodecs = routerCapabilities.Codecs ?? [];
        var codecs = new List<RtpMapping.CodecMapping>();
        var mediaMap = new Dictionary<int, RtpCodecCapability>();
        foreach (var codec in parameters.Codecs.Where(c => !IsRtx(c.MimeType)))
        {
            var match = routerCodecs.FirstOrDefault(r => !IsRtx(r.MimeType) && CodecMatching.Match(CodecMatching.View(codec), CodecMatching.View(r), strict: true, out _))
                ?? throw new UnsupportedException($"unsupported codec [mimeType:{codec.MimeType}, payloadType:{codec.PayloadType}]");
            mediaMap[codec.PayloadType] = match;
            codecs.Add(new RtpMapping.CodecMapping(codec.PayloadType, match.PreferredPayloadType!.Value));
        }
        foreach (var rtx in parameters.Codecs.Where(c => IsRtx(c.MimeType)))
        {
            var apt = Apt(rtx.Parameters);
            if (apt is null || !mediaMap.TryGetValue(apt.Value, out var media))
                throw new ArgumentException($"missing media codec found for RTX PT {rtx.PayloadType}");
            var routerRtx = routerCodecs.FirstOrDefault(r => IsRtx(r.MimeType) && Apt(r.Parameters) == media.PreferredPayloadType)
                ?? throw new UnsupportedException($"no RTX codec for capability codec PT {media.PreferredPayloadType}");
            codecs.Add(new RtpMapping.CodecMapping(rtx.PayloadType, routerRtx.PreferredPayloadType!.Value));
        }
        var mappedSsrc = firstMappedSsrc ?? RandomSsrc();
        var encodings = (parameters.Encodings ?? []).Select(e => new RtpMapping.EncodingMapping(e.Ssrc, e.Rid, e.ScalabilityMode, mappedSsrc++)).ToList();
        return new RtpMapping { Codecs = codecs, Encodings = encodings };
    }

    /// <summary>The router-normalised description of a producer that consumers derive from (getConsumableRtpParameters).</summary>
    public static RtpParameters GetConsumableParameters(MediaKind kind, RtpParameters parameters, RtpCapabilities routerCapabilities, RtpMapping mapping)
    {
        var routerCodecs = routerCapabilities.Codecs ?? [];
        var codecs = new List<RtpCodecParameters>();
        foreach (var codec in parameters.Codecs.Where(c => !IsRtx(c.MimeType)))
        {
            var mappedPt = mapping.Codecs.First(m => m.PayloadType == codec.PayloadType).MappedPayloadType;
            var routerCodec = routerCodecs.First(r => r.PreferredPayloadType == mappedPt);
            codecs.Add(new RtpCodecParameters
            {
                MimeType = routerCodec.MimeType, PayloadType = mappedPt, ClockRate = routerCodec.ClockRate, Channels = routerCodec.Channels,
                Parameters = codec.Parameters ?? new Dictionary<string, CodecParameterValue>(), RtcpFeedback = routerCodec.RtcpFeedback,
            });
            var routerRtx = routerCodecs.FirstOrDefault(r => IsRtx(r.MimeType) && Apt(r.Parameters) == mappedPt);
            if (routerRtx is not null)
            {
                codecs.Add(new RtpCodecParameters
                {
                    MimeType = routerRtx.MimeType, PayloadType = routerRtx.PreferredPayloadType!.Value, ClockRate = routerRtx.ClockRate,
                    Parameters = routerRtx.Parameters, RtcpFeedback = routerRtx.RtcpFeedback,
                });
            }
        }
        var extensions = (routerCapabilities.HeaderExtensions ?? [])
            .Where(e => e.Kind == kind && e.Direction is null or RtpHeaderExtensionDirection.SendRecv or RtpHeaderExtensionDirection.SendOnly)
            .Select(e => new RtpHeaderExtensionParameters { Uri = e.Uri, Id = e.PreferredId, Encrypt = e.PreferredEncrypt ?? false, Parameters = new Dictionary<string, CodecParameterValue>() })
            .ToList();
        var encodings = (parameters.Encodings ?? []).Select((e, i) => e with
        {
            Ssrc = mapping.Encodings[i].MappedSsrc, Rid = null, Rtx = null, CodecPayloadType = null,
        }).ToList();
        return new RtpParameters
        {
            Codecs = codecs, HeaderExtensions = extensions, Encodings = encodings,
            Rtcp = new RtcpParameters { Cname = parameters.Rtcp?.Cname, ReducedSize = true },
        };
    }

    /// <summary>True when an endpoint with <paramref name="capabilities"/> can consume a producer (canConsume).</summary>
    public static bool CanConsume(RtpParameters consumable, RtpCapabilities capabilities)
    {
        List<RtpCodecCapability> remote;
        try
        {
            remote = (capabilities.Codecs ?? []).Select(RouterRtpCapabilities.Validate).ToList();
        }
        catch (ArgumentException)
        {
            return false;
        }
        var matching = consumable.Codecs.Where(c => remote.Any(r => CodecMatching.Match(CodecMatching.View(c), CodecMatching.View(r), strict: true, out _))).ToList();
        return matching.Count > 0 && !IsRtx(matching[0].MimeType);
    }

    /// <summary>The parameters of a consumer for a remote endpoint (getConsumerRtpParameters, non-pipe).</summary>
    /// <exception cref="UnsupportedException">No compatible media codec.</exception>
    public static RtpParameters GetConsumerParameters(RtpParameters consumable, RtpCapabilities remoteCapabilities, bool enableRtx = true, uint? ssrc = null)
    {
        var remote = (remoteCapabilities.Codecs ?? []).Select(RouterRtpCapabilities.Validate).ToList();
        var codecs = new List<RtpCodecParameters>();
        foreach (var codec in consumable.Codecs)
        {
            if (!enableRtx && IsRtx(codec.MimeType)) continue;
            var match = remote.FirstOrDefault(r => CodecMatching.Match(CodecMatching.View(codec), CodecMatching.View(r), strict: true, out _));
            if (match is null) continue;
            var feedback = (match.RtcpFeedback ?? []).Where(f => enableRtx || f.Type != "nack" || !string.IsNullOrEmpty(f.Parameter)).ToList();
            codecs.Add(codec with { RtcpFeedback = feedback });
        }
        // RTX whose media codec did not survive goes too.
        codecs.RemoveAll(c => IsRtx(c.MimeType) && !codecs.Any(m => !IsRtx(m.MimeType) && m.PayloadType == Apt(c.Parameters)));
        if (codecs.Count == 0 || IsRtx(codecs[0].MimeType)) throw new UnsupportedException("no compatible media codecs");
        var rtxSupported = codecs.Any(c => IsRtx(c.MimeType));

        var extensions = (consumable.HeaderExtensions ?? [])
            .Where(e => (remoteCapabilities.HeaderExtensions ?? []).Any(r => r.Uri == e.Uri && r.PreferredId == e.Id)).ToList();
        codecs = ReduceFeedbackForBwe(codecs, extensions);

        var consumableEncodings = consumable.Encodings ?? [];
        var modeSource = consumableEncodings.FirstOrDefault(e => e.ScalabilityMode is not null)?.ScalabilityMode;
        string? scalabilityMode = modeSource;
        if (consumableEncodings.Count > 1)
        {
            var temporal = ScalabilityMode.Parse(modeSource).TemporalLayers;
            scalabilityMode = $"L{consumableEncodings.Count}T{temporal}";
        }
        var maxBitrate = consumableEncodings.Select(e => e.MaxBitrate).Max();
        var consumerSsrc = ssrc ?? RandomSsrc();
        var encoding = new RtpEncodingParameters
        {
            Ssrc = consumerSsrc,
            Rtx = rtxSupported ? new RtxParameters { Ssrc = consumerSsrc + 1 } : null,
            ScalabilityMode = scalabilityMode,
            MaxBitrate = maxBitrate,
        };
        return new RtpParameters { Codecs = codecs, HeaderExtensions = extensions, Encodings = [encoding], Rtcp = consumable.Rtcp };
    }

    /// <summary>The parameters of a consumer on a PipeTransport (getPipeConsumerRtpParameters).</summary>
    public static RtpParameters GetPipeConsumerParameters(RtpParameters consumable, bool enableRtx, uint? ssrcBase = null, uint? rtxSsrcBase = null)
    {
        var codecs = consumable.Codecs.Where(c => enableRtx || !IsRtx(c.MimeType)).Select(c => c with
        {
            RtcpFeedback = (c.RtcpFeedback ?? []).Where(f =>
                (f.Type == "nack" && f.Parameter == "pli") || (f.Type == "ccm" && f.Parameter == "fir") || (enableRtx && f.Type == "nack" && string.IsNullOrEmpty(f.Parameter))).ToList(),
        }).ToList();
        var extensions = (consumable.HeaderExtensions ?? []).Where(e => !PipeDroppedExtensions.Contains(e.Uri)).ToList();
        var baseSsrc = ssrcBase ?? RandomSsrc();
        var baseRtx = rtxSsrcBase ?? RandomSsrc();
        var encodings = (consumable.Encodings ?? []).Select((e, i) => e with
        {
            Ssrc = baseSsrc + (uint)i,
            Rtx = enableRtx ? new RtxParameters { Ssrc = baseRtx + (uint)i } : null,
        }).ToList();
        return new RtpParameters { Codecs = codecs, HeaderExtensions = extensions, Encodings = encodings, Rtcp = consumable.Rtcp };
    }

    // With transport-cc negotiated, REMB goes; else with abs-send-time, transport-cc goes; else both go.
    private static List<RtpCodecParameters> ReduceFeedbackForBwe(List<RtpCodecParameters> codecs, List<RtpHeaderExtensionParameters> extensions)
    {
        string[] drop = extensions.Any(e => e.Uri == RtpHeaderExtensionUris.TransportWideCc01) ? ["goog-remb"]
            : extensions.Any(e => e.Uri == RtpHeaderExtensionUris.AbsSendTime) ? ["transport-cc"]
            : ["goog-remb", "transport-cc"];
        return codecs.Select(c => c with { RtcpFeedback = (c.RtcpFeedback ?? []).Where(f => !drop.Contains(f.Type)).ToList() }).ToList();
    }
}
