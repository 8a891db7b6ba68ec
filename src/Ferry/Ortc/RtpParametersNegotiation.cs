using System.Text.Json;
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

    private static bool IsH264(string mimeType) =>
        mimeType.Equals("video/H264", StringComparison.OrdinalIgnoreCase) || mimeType.Equals("video/H264-SVC", StringComparison.OrdinalIgnoreCase);

    private static Dictionary<string, CodecParameterValue> WithProfileLevelId(IReadOnlyDictionary<string, CodecParameterValue>? parameters, string? profileLevelId)
    {
        var result = parameters is null ? new Dictionary<string, CodecParameterValue>() : new Dictionary<string, CodecParameterValue>(parameters);
        if (profileLevelId is null) result.Remove("profile-level-id");
        else result["profile-level-id"] = profileLevelId;
        return result;
    }

    private static int? Apt(IReadOnlyDictionary<string, CodecParameterValue>? parameters) =>
        parameters is not null && parameters.TryGetValue("apt", out var v) && v.TryGetInt(out var apt) ? apt : null;

    /// <summary>
    /// Maps a producer's codecs and encodings into the router's (getProducerRtpParametersMapping): every
    /// media codec to the first router codec it matches strictly, every RTX codec to the router's RTX
    /// codec of that media codec, and every encoding to a router SSRC, consecutive from the first.
    /// </summary>
    /// <param name="parameters">The producer's RTP parameters.</param>
    /// <param name="routerCapabilities">The router's capabilities.</param>
    /// <param name="producerParameters">
    /// <paramref name="parameters"/> as the match leaves them (mediasoup's matchCodecs with modify): each
    /// H264 codec's profile-level-id set to the answer for the router's codec, or removed when neither
    /// side has one. These are the producer's parameters from then on and what
    /// <see cref="GetConsumableParameters"/> takes.
    /// </param>
    /// <param name="firstMappedSsrc">The router SSRC of the first encoding; random in mediasoup's range when null.</param>
    /// <exception cref="UnsupportedException">A codec the router does not have, or an RTX codec for a router codec without RTX.</exception>
    /// <exception cref="ArgumentException">An RTX codec whose apt is not a media codec of the producer (mediasoup's TypeError).</exception>
    public static RtpMapping GetProducerMapping(RtpParameters parameters, RtpCapabilities routerCapabilities, out RtpParameters producerParameters, uint? firstMappedSsrc = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(routerCapabilities);
        var routerCodecs = routerCapabilities.Codecs ?? [];
        var producerCodecs = parameters.Codecs.ToList();
        var codecs = new List<RtpMapping.CodecMapping>();
        var mediaMap = new Dictionary<int, RtpCodecCapability>();
        for (var i = 0; i < producerCodecs.Count; i++)
        {
            var codec = producerCodecs[i];
            if (IsRtx(codec.MimeType)) continue;
            RtpCodecCapability? match = null;
            string? answer = null;
            foreach (var candidate in routerCodecs)
            {
                if (!IsRtx(candidate.MimeType) && CodecMatching.Match(CodecMatching.View(codec), CodecMatching.View(candidate), strict: true, out answer))
                {
                    match = candidate;
                    break;
                }
            }
            if (match is null) throw new UnsupportedException($"unsupported codec [mimeType:{codec.MimeType}, payloadType:{codec.PayloadType}]");
            if (IsH264(codec.MimeType)) producerCodecs[i] = codec with { Parameters = WithProfileLevelId(codec.Parameters, answer) };
            mediaMap.TryAdd(codec.PayloadType, match);
            codecs.Add(new RtpMapping.CodecMapping(codec.PayloadType, match.PreferredPayloadType!.Value));
        }
        foreach (var rtx in producerCodecs.Where(c => IsRtx(c.MimeType)))
        {
            var apt = Apt(rtx.Parameters);
            if (apt is null || !mediaMap.TryGetValue(apt.Value, out var media))
                throw new ArgumentException($"missing media codec found for RTX PT {rtx.PayloadType}");
            var routerRtx = routerCodecs.FirstOrDefault(r => IsRtx(r.MimeType) && Apt(r.Parameters) == media.PreferredPayloadType)
                ?? throw new UnsupportedException($"no RTX codec for capability codec PT {media.PreferredPayloadType}");
            codecs.Add(new RtpMapping.CodecMapping(rtx.PayloadType, routerRtx.PreferredPayloadType!.Value));
        }
        var mappedSsrc = firstMappedSsrc ?? RandomSsrc();
        // Like mediasoup, an empty rid or mode, or an SSRC of 0, counts as absent.
        var encodings = (parameters.Encodings ?? []).Select(e => new RtpMapping.EncodingMapping(
            e.Ssrc is > 0 ? e.Ssrc : null,
            string.IsNullOrEmpty(e.Rid) ? null : e.Rid,
            string.IsNullOrEmpty(e.ScalabilityMode) ? null : e.ScalabilityMode,
            mappedSsrc++)).ToList();
        producerParameters = parameters with { Codecs = producerCodecs };
        return new RtpMapping { Codecs = codecs, Encodings = encodings };
    }

    /// <summary>
    /// The router-normalised description of a producer that consumers derive from
    /// (getConsumableRtpParameters): each media codec as the router's (payload type, clock rate,
    /// channels, RTCP feedback) with the producer's parameters, followed by the router's RTX codec for
    /// it; the router's header extensions of <paramref name="kind"/> it can send; the producer's
    /// encodings with their router SSRC and without rid, rtx and codecPayloadType; the producer's CNAME.
    /// </summary>
    /// <param name="kind">The producer's kind.</param>
    /// <param name="parameters">The producer's parameters as <see cref="GetProducerMapping"/> left them.</param>
    /// <param name="routerCapabilities">The router's capabilities.</param>
    /// <param name="mapping">The producer's mapping.</param>
    public static RtpParameters GetConsumableParameters(MediaKind kind, RtpParameters parameters, RtpCapabilities routerCapabilities, RtpMapping mapping)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(routerCapabilities);
        ArgumentNullException.ThrowIfNull(mapping);
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
            Ssrc = mapping.Encodings[i].MappedSsrc, Rid = null, Rtx = null, CodecPayloadType = null, Extra = CopyExtra(e.Extra),
        }).ToList();
        return new RtpParameters
        {
            Codecs = codecs, HeaderExtensions = extensions, Encodings = encodings,
            Rtcp = new RtcpParameters { Cname = parameters.Rtcp?.Cname, ReducedSize = true },
        };
    }

    /// <summary>
    /// True when an endpoint with <paramref name="capabilities"/> can consume a producer (canConsume):
    /// the first consumable codec it supports is a media codec. Malformed capabilities give false.
    /// </summary>
    public static bool CanConsume(RtpParameters consumable, RtpCapabilities capabilities)
    {
        ArgumentNullException.ThrowIfNull(consumable);
        ArgumentNullException.ThrowIfNull(capabilities);
        List<RtpCodecCapability> remote;
        try
        {
            RtpParametersValidation.ValidateCapabilities(capabilities);
            remote = (capabilities.Codecs ?? []).Select(RouterRtpCapabilities.Validate).ToList();
        }
        catch (ArgumentException)
        {
            return false;
        }
        var matching = consumable.Codecs.Where(c => remote.Any(r => CodecMatching.Match(CodecMatching.View(r), CodecMatching.View(c), strict: true, out _))).ToList();
        return matching.Count > 0 && !IsRtx(matching[0].MimeType);
    }

    /// <summary>
    /// The parameters of a consumer for a remote endpoint (getConsumerRtpParameters): the consumable
    /// codecs the endpoint supports (strict match), with the router's payload types, the producer's
    /// parameters and the endpoint's RTCP feedback, RTX only with its media codec; the header
    /// extensions the endpoint has with the same id; feedback reduced to the negotiated bandwidth
    /// estimation (transport-cc drops goog-remb, else abs-send-time drops transport-cc, else both go).
    /// Not a pipe: one encoding, with a scalability mode exposing the producer's streams as spatial
    /// layers and the largest maxBitrate. A pipe: every consumable encoding.
    /// </summary>
    /// <param name="consumable">The producer's consumable parameters.</param>
    /// <param name="remoteCapabilities">The consuming endpoint's capabilities.</param>
    /// <param name="pipe">Whether the consumer forwards every stream of the producer (mediasoup's consume({pipe: true})).</param>
    /// <param name="enableRtx">Whether RTX and plain NACK are offered.</param>
    /// <param name="ssrc">The consumer's SSRC (a pipe's first); random in mediasoup's range when null. RTX, when negotiated, is SSRC + 1 unless a pipe.</param>
    /// <param name="rtxSsrc">A pipe's first RTX SSRC; random when null. Not used unless <paramref name="pipe"/>.</param>
    /// <exception cref="UnsupportedException">No compatible media codec.</exception>
    /// <exception cref="ArgumentException">A malformed codec in the capabilities (mediasoup's TypeError).</exception>
    public static RtpParameters GetConsumerParameters(RtpParameters consumable, RtpCapabilities remoteCapabilities, bool pipe = false, bool enableRtx = true,
        uint? ssrc = null, uint? rtxSsrc = null)
    {
        ArgumentNullException.ThrowIfNull(consumable);
        ArgumentNullException.ThrowIfNull(remoteCapabilities);
        var remote = (remoteCapabilities.Codecs ?? []).Select(RouterRtpCapabilities.Validate).ToList();
        var codecs = new List<RtpCodecParameters>();
        foreach (var codec in consumable.Codecs)
        {
            if (!enableRtx && IsRtx(codec.MimeType)) continue;
            var match = remote.FirstOrDefault(r => CodecMatching.Match(CodecMatching.View(r), CodecMatching.View(codec), strict: true, out _));
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
        var firstSsrc = ssrc ?? RandomSsrc();
        List<RtpEncodingParameters> encodings;
        if (pipe)
        {
            var firstRtxSsrc = rtxSsrc ?? RandomSsrc();
            encodings = consumableEncodings.Select((e, i) => e with
            {
                Ssrc = firstSsrc + (uint)i,
                Rtx = rtxSupported ? new RtxParameters { Ssrc = firstRtxSsrc + (uint)i } : null,
                Extra = CopyExtra(e.Extra),
            }).ToList();
        }
        else
        {
            // Every stream of a simulcast producer becomes a spatial layer; the temporal layers are
            // those of the first encoding that has a mode (all are assumed equal).
            var scalabilityMode = consumableEncodings.Select(e => e.ScalabilityMode).FirstOrDefault(m => !string.IsNullOrEmpty(m));
            if (consumableEncodings.Count > 1)
                scalabilityMode = $"L{consumableEncodings.Count}T{ScalabilityMode.Parse(scalabilityMode).TemporalLayers}";
            var maxBitrate = consumableEncodings.Select(e => e.MaxBitrate ?? 0).DefaultIfEmpty(0).Max();
            encodings =
            [
                new RtpEncodingParameters
                {
                    Ssrc = firstSsrc,
                    Rtx = rtxSupported ? new RtxParameters { Ssrc = firstSsrc + 1 } : null,
                    ScalabilityMode = scalabilityMode,
                    MaxBitrate = maxBitrate > 0 ? maxBitrate : null,
                },
            ];
        }
        return new RtpParameters { Codecs = codecs, HeaderExtensions = extensions, Encodings = encodings, Rtcp = consumable.Rtcp };
    }

    /// <summary>
    /// The parameters of a consumer on a PipeTransport (getPipeConsumerRtpParameters): every consumable
    /// codec (RTX only with <paramref name="enableRtx"/>) with feedback reduced to nack pli, ccm fir and,
    /// with RTX, plain nack; the header extensions but mid, abs-send-time and transport-cc; every
    /// consumable encoding with consecutive SSRCs (and RTX SSRCs with RTX). No mid.
    /// </summary>
    /// <param name="consumable">The producer's consumable parameters.</param>
    /// <param name="enableRtx">The pipe transport's enableRtx.</param>
    /// <param name="ssrcBase">The first encoding's SSRC; random in mediasoup's range when null.</param>
    /// <param name="rtxSsrcBase">The first encoding's RTX SSRC; random when null.</param>
    public static RtpParameters GetPipeConsumerParameters(RtpParameters consumable, bool enableRtx, uint? ssrcBase = null, uint? rtxSsrcBase = null)
    {
        ArgumentNullException.ThrowIfNull(consumable);
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
            Extra = CopyExtra(e.Extra),
        }).ToList();
        return new RtpParameters { Codecs = codecs, HeaderExtensions = extensions, Encodings = encodings, Rtcp = consumable.Rtcp };
    }

    // Encodings are records, but their bag of unknown fields is a mutable dictionary: copies get their own.
    private static Dictionary<string, JsonElement>? CopyExtra(Dictionary<string, JsonElement>? extra) =>
        extra is null ? null : new Dictionary<string, JsonElement>(extra);

    // With transport-cc negotiated, REMB goes; else with abs-send-time, transport-cc goes; else both go.
    private static List<RtpCodecParameters> ReduceFeedbackForBwe(List<RtpCodecParameters> codecs, List<RtpHeaderExtensionParameters> extensions)
    {
        string[] drop = extensions.Any(e => e.Uri == RtpHeaderExtensionUris.TransportWideCc01) ? ["goog-remb"]
            : extensions.Any(e => e.Uri == RtpHeaderExtensionUris.AbsSendTime) ? ["transport-cc"]
            : ["goog-remb", "transport-cc"];
        return codecs.Select(c => c with { RtcpFeedback = (c.RtcpFeedback ?? []).Where(f => !drop.Contains(f.Type)).ToList() }).ToList();
    }
}
