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

    /// <summary>Most encodings (simulcast streams) a producer may declare. mediasoup sets none; browsers send up to 4.</summary>
    public const int MaxEncodings = 16;

    /// <summary>Most spatial or temporal layers a scalability mode may declare (VP9's and AV1's layer ids are 3 bits wide).</summary>
    public const int MaxLayers = 8;

    /// <summary>Longest MID or RID: what a one-byte header extension element carries (RFC 8285).</summary>
    public const int MaxIdLength = 16;

    /// <summary>Most entries in one list of parameters or capabilities (codecs, header extensions, feedback, codec parameters).</summary>
    public const int MaxListLength = 128;

    /// <summary>Longest CNAME: an RTCP SDES item (RFC 3550 §6.5).</summary>
    public const int MaxCnameLength = 255;

    /// <summary>Largest maxBitrate (the WebRTC API's unsigned long).</summary>
    public const long MaxBitrate = uint.MaxValue;

    /// <summary>Validates a producer's parameters and fills mediasoup's defaults (one empty encoding when none, reducedSize true).</summary>
    /// <exception cref="ArgumentException">Anything malformed or out of range, nulls inside lists included (mediasoup's TypeError).</exception>
    public static RtpParameters ValidateForProducer(MediaKind kind, RtpParameters parameters)
    {
        if (parameters is null) throw new ArgumentException("missing rtpParameters");
        if (!Enum.IsDefined(kind)) throw new ArgumentException($"invalid kind {kind}");
        if (parameters.Mid is "") throw new ArgumentException("empty mid");
        if (parameters.Mid is { Length: > MaxIdLength }) throw new ArgumentException($"mid longer than {MaxIdLength} characters");
        if (parameters.Codecs is null || parameters.Codecs.Count == 0) throw new ArgumentException("empty codecs");
        CheckList(parameters.Codecs, "codecs");
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
            if (codec.Channels is < 1 or > 255) throw new ArgumentException($"invalid codec.channels {codec.Channels}");
            CheckCodecParameters(codec.Parameters);
            CheckFeedback(codec.RtcpFeedback);
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
        if (parameters.HeaderExtensions is { } extensions)
        {
            CheckList(extensions, "headerExtensions");
            var ids = new HashSet<int>();
            foreach (var ext in extensions)
            {
                if (string.IsNullOrEmpty(ext.Uri)) throw new ArgumentException("missing ext.uri");
                if (ext.Id is < 1 or > 255) throw new ArgumentException($"invalid ext.id {ext.Id}");
                if (!ids.Add(ext.Id)) throw new ArgumentException($"duplicated ext.id {ext.Id}");
                CheckCodecParameters(ext.Parameters);
            }
        }
        if (parameters.Encodings is { } given) CheckList(given, "encodings", MaxEncodings);
        // mediasoup takes a falsy ssrc or rid (0, "") as absent.
        var encodings = parameters.Encodings is { Count: > 0 } e
            ? e.Select(x => x.Ssrc is 0 || x.Rid is "" ? x with { Ssrc = x.Ssrc is 0 ? null : x.Ssrc, Rid = x.Rid is "" ? null : x.Rid } : x).ToList()
            : [new RtpEncodingParameters()];
        var ssrcs = new HashSet<uint>();
        var rids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var encoding in encodings)
        {
            if (encoding.CodecPayloadType is { } cpt && (!payloadTypes.Contains(cpt) || IsFeature(parameters.Codecs.First(c => c.PayloadType == cpt).MimeType)))
                throw new ArgumentException($"invalid encoding.codecPayloadType {cpt}");
            if (encoding.Ssrc is { } ssrc && !ssrcs.Add(ssrc)) throw new ArgumentException($"duplicated encoding ssrc {ssrc}");
            if (encoding.Rtx is { } rtx && (rtx.Ssrc == 0 || !ssrcs.Add(rtx.Ssrc))) throw new ArgumentException($"invalid or duplicated encoding.rtx.ssrc {rtx.Ssrc}");
            if (encoding.Rid is { } rid)
            {
                if (rid.Length > MaxIdLength || !rid.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                    throw new ArgumentException($"invalid encoding.rid (1-{MaxIdLength} letters, digits, '-' or '_')");
                if (!rids.Add(rid)) throw new ArgumentException($"duplicated encoding.rid '{rid}'");
            }
            var mode = ScalabilityMode.Parse(encoding.ScalabilityMode);
            if (mode.SpatialLayers > MaxLayers || mode.TemporalLayers > MaxLayers)
                throw new ArgumentException($"invalid encoding.scalabilityMode '{encoding.ScalabilityMode}': at most {MaxLayers} spatial and {MaxLayers} temporal layers");
            if (encoding.MaxBitrate is < 0 or > MaxBitrate) throw new ArgumentException($"invalid encoding.maxBitrate {encoding.MaxBitrate}");
            // The WebRTC API's ranges (RangeError there): scale-down at least 1, frame rate not negative.
            if (encoding.ScaleResolutionDownBy is { } scale && !(scale >= 1 && double.IsFinite(scale))) throw new ArgumentException($"invalid encoding.scaleResolutionDownBy {scale}");
            if (encoding.MaxFramerate is { } rate && !(rate >= 0 && double.IsFinite(rate))) throw new ArgumentException($"invalid encoding.maxFramerate {rate}");
        }
        if (encodings.Count > 1 && encodings.Any(x => ScalabilityMode.Parse(x.ScalabilityMode).SpatialLayers > 1))
            throw new ArgumentException("simulcast with spatial layers in an encoding");
        if (encodings.Count > 1 && encodings.Any(x => x.Ssrc is null && x.Rid is null))
            throw new ArgumentException("more than one encoding without ssrc or rid");
        if (encodings.Count == 1 && encodings[0].Ssrc is null && encodings[0].Rid is null && parameters.Mid is null)
            throw new ArgumentException("no mid and a single encoding without ssrc or rid");
        if (parameters.Rtcp?.Cname is { Length: > MaxCnameLength }) throw new ArgumentException($"rtcp.cname longer than {MaxCnameLength} characters");
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
    /// <exception cref="ArgumentException">Malformed, nulls inside lists included (mediasoup's TypeError).</exception>
    public static void ValidateCapabilities(RtpCapabilities capabilities)
    {
        if (capabilities is null) throw new ArgumentException("missing rtpCapabilities");
        if (capabilities.Codecs is { } codecs)
        {
            CheckList(codecs, "codecs");
            foreach (var codec in codecs)
            {
                if (!MimeTypePattern().IsMatch(codec.MimeType ?? "")) throw new ArgumentException($"invalid codec.mimeType '{codec.MimeType}'");
                if (codec.ClockRate <= 0) throw new ArgumentException("missing codec.clockRate");
                if (codec.PreferredPayloadType is < 0 or > 127) throw new ArgumentException($"invalid codec.preferredPayloadType {codec.PreferredPayloadType}");
                if (codec.Channels is < 1 or > 255) throw new ArgumentException($"invalid codec.channels {codec.Channels}");
                CheckCodecParameters(codec.Parameters);
                CheckFeedback(codec.RtcpFeedback);
            }
        }
        if (capabilities.HeaderExtensions is { } extensions)
        {
            CheckList(extensions, "headerExtensions");
            foreach (var ext in extensions)
            {
                if (string.IsNullOrEmpty(ext.Uri)) throw new ArgumentException("missing ext.uri");
                if (ext.PreferredId is < 1 or > 255) throw new ArgumentException($"invalid ext.preferredId {ext.PreferredId}");
            }
        }
    }

    /// <summary>A list with no null entry and at most <paramref name="max"/> entries.</summary>
    internal static void CheckList<T>(IReadOnlyList<T> list, string name, int max = MaxListLength) where T : class
    {
        if (list.Count > max) throw new ArgumentException($"too many entries in {name} ({list.Count}, at most {max})");
        for (var i = 0; i < list.Count; i++)
            if (list[i] is null) throw new ArgumentException($"invalid {name}[{i}]: null");
    }

    private static void CheckCodecParameters(IReadOnlyDictionary<string, CodecParameterValue>? parameters)
    {
        if (parameters is { Count: > MaxListLength }) throw new ArgumentException($"too many codec parameters ({parameters.Count}, at most {MaxListLength})");
    }

    /// <summary>mediasoup's feedback rule: an object with a non-empty type.</summary>
    internal static void CheckFeedback(IReadOnlyList<RtcpFeedback>? feedback)
    {
        if (feedback is null) return;
        CheckList(feedback, "rtcpFeedback");
        foreach (var fb in feedback)
            if (string.IsNullOrEmpty(fb.Type)) throw new ArgumentException("missing fb.type");
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
