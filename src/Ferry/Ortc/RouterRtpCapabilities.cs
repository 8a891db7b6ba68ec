using System.Text.RegularExpressions;
using Ferry.Protocols.Ortc;

namespace Ferry.Ortc;

/// <summary>
/// Builds a router's rtpCapabilities from its mediaCodecs, by mediasoup's rules
/// (generateRouterRtpCapabilities): each media codec must match a supported one; payload types are
/// the preferred one given, else the codec's static one, else the next from the dynamic pool
/// (100-127 then 96-99); every video codec is followed by its RTX codec; header extensions are the
/// whole supported list.
/// </summary>
public static partial class RouterRtpCapabilities
{
    private static readonly int[] DynamicPayloadTypes = [.. Enumerable.Range(100, 28), 96, 97, 98, 99];

    /// <summary>Generates the capabilities.</summary>
    /// <exception cref="ArgumentException">A codec is malformed, or two share a payload type (mediasoup's TypeError).</exception>
    /// <exception cref="UnsupportedException">A codec is not one Ferry supports (mediasoup's UnsupportedError).</exception>
    /// <exception cref="InvalidOperationException">More codecs than dynamic payload types.</exception>
    public static RtpCapabilities Generate(IReadOnlyList<RtpCodecCapability> mediaCodecs)
    {
        ArgumentNullException.ThrowIfNull(mediaCodecs);
        RtpParametersValidation.CheckList(mediaCodecs, "mediaCodecs");
        var supported = SupportedRtpCapabilities.Value.Codecs!;
        var pool = new List<int>(DynamicPayloadTypes);
        var result = new List<RtpCodecCapability>();

        foreach (var raw in mediaCodecs)
        {
            var codec = Validate(raw);
            if (codec.MimeType.Equals("video/rtx", StringComparison.OrdinalIgnoreCase))
                throw new UnsupportedException("media codec not supported [mimeType:video/rtx]: RTX is added by the router");
            var match = supported.FirstOrDefault(s => CodecMatching.Match(CodecMatching.View(codec), CodecMatching.View(s), strict: false, out _))
                ?? throw new UnsupportedException($"media codec not supported [mimeType:{codec.MimeType}]");

            int payloadType;
            if (codec.PreferredPayloadType is { } preferred)
            {
                payloadType = preferred;
                pool.Remove(preferred);
            }
            else if (match.PreferredPayloadType is { } fixedType)
            {
                payloadType = fixedType;
            }
            else
            {
                payloadType = Take(pool);
            }
            if (result.Any(c => c.PreferredPayloadType == payloadType))
                throw new ArgumentException("duplicated codec.preferredPayloadType");

            var parameters = new Dictionary<string, CodecParameterValue>(match.Parameters ?? new Dictionary<string, CodecParameterValue>());
            foreach (var (key, value) in codec.Parameters ?? new Dictionary<string, CodecParameterValue>()) parameters[key] = value;
            result.Add(match with { PreferredPayloadType = payloadType, Parameters = parameters });

            if (match.Kind == MediaKind.Video)
            {
                result.Add(new RtpCodecCapability
                {
                    Kind = MediaKind.Video, MimeType = "video/rtx", PreferredPayloadType = Take(pool), ClockRate = match.ClockRate,
                    Parameters = new Dictionary<string, CodecParameterValue> { ["apt"] = payloadType }, RtcpFeedback = [],
                });
            }
        }
        return new RtpCapabilities { Codecs = result, HeaderExtensions = SupportedRtpCapabilities.Value.HeaderExtensions };
    }

    /// <summary>
    /// mediasoup's validation of a capability codec: mime type "audio/x" or "video/x", kind taken from
    /// it, channels defaulting to 1 for audio and dropped for video, parameters a string/number map
    /// with a numeric apt, feedback parameters defaulting to "".
    /// </summary>
    /// <exception cref="ArgumentException">Malformed.</exception>
    public static RtpCodecCapability Validate(RtpCodecCapability codec)
    {
        if (codec is null) throw new ArgumentException("invalid codec: null");
        if (string.IsNullOrEmpty(codec.MimeType)) throw new ArgumentException("missing codec.mimeType");
        var m = MimePattern().Match(codec.MimeType);
        if (!m.Success) throw new ArgumentException("invalid codec.mimeType");
        var kind = m.Groups[1].Value.Equals("audio", StringComparison.OrdinalIgnoreCase) ? MediaKind.Audio : MediaKind.Video;
        if (codec.ClockRate <= 0) throw new ArgumentException("missing codec.clockRate");
        if (codec.Parameters is { } p && p.TryGetValue("apt", out var apt) && apt.IsString)
            throw new ArgumentException("invalid codec apt parameter");
        if (codec.PreferredPayloadType is < 0 or > 127) throw new ArgumentException($"invalid codec.preferredPayloadType {codec.PreferredPayloadType}");
        RtpParametersValidation.CheckFeedback(codec.RtcpFeedback);
        var feedback = (codec.RtcpFeedback ?? []).Select(f =>
        {
            if (string.IsNullOrEmpty(f.Type)) throw new ArgumentException("missing fb.type");
            return f.Parameter is null ? f with { Parameter = "" } : f;
        }).ToArray();
        return codec with
        {
            Kind = kind,
            Channels = kind == MediaKind.Audio ? codec.Channels ?? 1 : null,
            Parameters = codec.Parameters ?? new Dictionary<string, CodecParameterValue>(),
            RtcpFeedback = feedback,
        };
    }

    private static int Take(List<int> pool)
    {
        if (pool.Count == 0) throw new InvalidOperationException("cannot allocate more dynamic codec payload types");
        var payloadType = pool[0];
        pool.RemoveAt(0);
        return payloadType;
    }

    [GeneratedRegex("^(audio|video)/(.+)", RegexOptions.IgnoreCase)]
    private static partial Regex MimePattern();
}
