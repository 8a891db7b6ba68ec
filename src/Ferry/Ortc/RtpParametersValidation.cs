using System.Text.RegularExpressions;
using Ferry.Protocols.Ortc;

namespace Ferry.Ortc;

/// <summary>
/// mediasoup's checks on the RTP parameters a producer is created with (ortc validateRtpParameters plus
/// the worker's own), with its defaults filled in, and the producer type they imply. Failures are
/// <see cref="ArgumentException"/> (mediasoup's TypeError).
/// </summary>
public static partial class RtpParametersValidation
{
    private static readonly HashSet<string> KnownSubtypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "opus", "multiopus", "PCMA", "PCMU", "ISAC", "G722", "iLBC", "SILK", "VP8", "VP9", "H264", "H264-SVC", "X-H264UC", "H265", "AV1",
        "CN", "telephone-event", "rtx", "ulpfec", "flexfec", "x-ulpfecuc", "red",
    };

    [GeneratedRegex("^(audio|video)/(.+)$", RegexOptions.IgnoreCase)]
    private static partial Regex MimeTypePattern();

    /// <summary>Validates a producer's parameters and fills mediasoup's defaults (one empty encoding when none, reducedSize true).</summary>
    public static RtpParameters ValidateForProducer(MediaKind kind, RtpParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Mid is "") throw new ArgumentException("empty mid");
        if (parameters.Codecs is null || parameters.Codecs.Count == 0) throw new ArgumentException("empty codecs");
        var payloadTypes = new HashSet<int>();
        foreach (var codec in parameters.Codecs)
        {
            var m = MimeTypePattern().Match(codec.MimeType ?? "");
            if (!m.Success) throw new ArgumentException($"invalid codec.mimeType '{codec.MimeType}'");
            if (!KnownSubtypes.Contains(m.Groups[2].Value)) throw new ArgumentException($"unknown codec mimeType '{codec.MimeType}'");
            if (!string.Equals(m.Groups[1].Value, kind == MediaKind.Audio ? "audio" : "video", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"codec {codec.MimeType} does not match kind {kind}");
            if (codec.PayloadType is < 0 or > 127) throw new ArgumentException($"invalid payloadType {codec.PayloadType}");
            if (!payloadTypes.Add(codec.PayloadType)) throw new ArgumentException($"duplicated codec.payloadType {codec.PayloadType}");
            if (codec.ClockRate <= 0) throw new ArgumentException("missing codec.clockRate");
        }
        foreach (var codec in parameters.Codecs.Where(c => c.MimeType.EndsWith("/rtx", StringComparison.OrdinalIgnoreCase)))
        {
            if (codec.Parameters is null || !codec.Parameters.TryGetValue("apt", out var apt) || !apt.TryGetInt(out var aptValue) || aptValue <= 0)
                throw new ArgumentException("missing or invalid apt parameter in RTX codec");
            var target = parameters.Codecs.FirstOrDefault(c => c.PayloadType == aptValue);
            if (target is null) throw new ArgumentException($"apt {aptValue} points to no codec");
            if (IsFeature(target.MimeType)) throw new ArgumentException($"apt {aptValue} points to a non media codec");
        }
        if (!parameters.Codecs.Any(c => !IsFeature(c.MimeType))) throw new ArgumentException("no media codec");
        foreach (var ext in parameters.HeaderExtensions ?? [])
        {
            if (string.IsNullOrEmpty(ext.Uri)) throw new ArgumentException("missing ext.uri");
            if (ext.Id is < 1 or > 255) throw new ArgumentException($"invalid ext.id {ext.Id}");
        }
        var encodings = parameters.Encodings is { Count: > 0 } e ? e : [new RtpEncodingParameters()];
        foreach (var encoding in encodings)
        {
            if (encoding.CodecPayloadType is { } cpt && (!payloadTypes.Contains(cpt) || IsFeature(parameters.Codecs.First(c => c.PayloadType == cpt).MimeType)))
                throw new ArgumentException($"invalid encoding.codecPayloadType {cpt}");
        }
        if (encodings.Count > 1 && encodings.Any(x => ScalabilityMode.Parse(x.ScalabilityMode).SpatialLayers > 1))
            throw new ArgumentException("simulcast with spatial layers in an encoding");
        if (encodings.Count > 1 && encodings.Any(x => x.Ssrc is null && x.Rid is null))
            throw new ArgumentException("more than one encoding without ssrc or rid");
        if (encodings.Count == 1 && encodings[0].Ssrc is null && encodings[0].Rid is null && parameters.Mid is null)
            throw new ArgumentException("no mid and a single encoding without ssrc or rid");
        var result = parameters with
        {
            Encodings = encodings,
            HeaderExtensions = parameters.HeaderExtensions ?? [],
            Rtcp = (parameters.Rtcp ?? new RtcpParameters()) with { ReducedSize = parameters.Rtcp?.ReducedSize ?? true },
        };
        _ = ProducerTypeOf(result);
        return result;
    }

    /// <summary>Checks what a consumer declares it can receive.</summary>
    public static void ValidateCapabilities(RtpCapabilities capabilities)
    {
        ArgumentNullException.ThrowIfNull(capabilities);
        foreach (var codec in capabilities.Codecs ?? [])
        {
            if (!MimeTypePattern().IsMatch(codec.MimeType ?? "")) throw new ArgumentException($"invalid codec.mimeType '{codec.MimeType}'");
            if (codec.ClockRate <= 0) throw new ArgumentException("missing codec.clockRate");
        }
        foreach (var ext in capabilities.HeaderExtensions ?? [])
        {
            if (string.IsNullOrEmpty(ext.Uri)) throw new ArgumentException("missing ext.uri");
        }
    }

    /// <summary>mediasoup's producer type: several encodings → simulcast; one with layers → svc (VP9, H264-SVC) or simulcast (VP8, H264); else simple.</summary>
    public static ProducerType ProducerTypeOf(RtpParameters parameters)
    {
        var encodings = parameters.Encodings ?? [];
        var media = parameters.Codecs.First(c => !IsFeature(c.MimeType)).MimeType.ToLowerInvariant();
        var temporalCapable = media is "video/vp8" or "video/h264";
        if (encodings.Count > 1)
        {
            if (!temporalCapable && media is not ("video/vp9" or "video/av1" or "video/h265")) throw new ArgumentException($"simulcast not supported for {media}");
            return ProducerType.Simulcast;
        }
        var mode = encodings.Count == 1 ? ScalabilityMode.Parse(encodings[0].ScalabilityMode) : ScalabilityMode.Default;
        if (mode.SpatialLayers > 1 || mode.TemporalLayers > 1)
        {
            if (media is "video/vp9" or "video/h264-svc" or "video/av1") return ProducerType.Svc;
            if (temporalCapable) return ProducerType.Simulcast;
            throw new ArgumentException("invalid RTP parameters");
        }
        return ProducerType.Simple;
    }

    private static bool IsFeature(string mimeType)
    {
        var sub = mimeType[(mimeType.IndexOf('/') + 1)..].ToLowerInvariant();
        return sub is "rtx" or "ulpfec" or "flexfec" or "x-ulpfecuc" or "red" or "cn" or "telephone-event";
    }
}
