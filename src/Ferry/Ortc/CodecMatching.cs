using Ferry.Protocols.Ortc;

namespace Ferry.Ortc;

/// <summary>
/// Whether two codecs are the same codec (mediasoup's matchCodecs): mime type (case-insensitive),
/// clock rate and channels always; multiopus stream counts always; in strict mode H264's
/// packetization mode and profile (with a computable answer) and VP9's profile-id.
/// </summary>
public static class CodecMatching
{
    /// <summary>A codec as matching sees it: capability or parameters alike.</summary>
    public readonly record struct CodecView(string MimeType, int ClockRate, int? Channels, IReadOnlyDictionary<string, CodecParameterValue>? Parameters);

    /// <summary>View of a capability codec.</summary>
    public static CodecView View(RtpCodecCapability c) => new(c.MimeType, c.ClockRate, c.Channels, c.Parameters);

    /// <summary>View of a codec in parameters.</summary>
    public static CodecView View(RtpCodecParameters c) => new(c.MimeType, c.ClockRate, c.Channels, c.Parameters);

    /// <summary>
    /// Matches <paramref name="a"/> against <paramref name="b"/>. With <paramref name="strict"/>, codec
    /// parameters that decide interoperability must agree; <paramref name="answerProfileLevelId"/> then
    /// receives the H264 profile-level-id to use (null when none applies).
    /// </summary>
    public static bool Match(CodecView a, CodecView b, bool strict, out string? answerProfileLevelId)
    {
        answerProfileLevelId = null;
        if (!string.Equals(a.MimeType, b.MimeType, StringComparison.OrdinalIgnoreCase)) return false;
        if (a.ClockRate != b.ClockRate) return false;
        if (a.Channels != b.Channels) return false;

        switch (a.MimeType.ToLowerInvariant())
        {
            case "audio/multiopus":
                if (Int(a, "num_streams") != Int(b, "num_streams") || Int(a, "coupled_streams") != Int(b, "coupled_streams")) return false;
                break;
            case "video/h264" or "video/h264-svc":
                if (!strict) break;
                if ((Int(a, "packetization-mode") ?? 0) != (Int(b, "packetization-mode") ?? 0)) return false;
                var pa = Text(a, "profile-level-id");
                var pb = Text(b, "profile-level-id");
                var profileA = pa is null ? H264ProfileLevelId.Default : H264ProfileLevelId.Parse(pa);
                var profileB = pb is null ? H264ProfileLevelId.Default : H264ProfileLevelId.Parse(pb);
                if (profileA is null || profileB is null || profileA.Value.Profile != profileB.Value.Profile) return false;
                try
                {
                    answerProfileLevelId = H264ProfileLevelId.AnswerFor(pa, Int(a, "level-asymmetry-allowed") == 1, pb, Int(b, "level-asymmetry-allowed") == 1);
                }
                catch (ArgumentException)
                {
                    return false;
                }
                break;
            case "video/vp9":
                if (strict && (Int(a, "profile-id") ?? 0) != (Int(b, "profile-id") ?? 0)) return false;
                break;
        }
        return true;
    }

    private static int? Int(CodecView c, string key) =>
        c.Parameters is not null && c.Parameters.TryGetValue(key, out var v) && v.TryGetInt(out var i) ? i : null;

    private static string? Text(CodecView c, string key) =>
        c.Parameters is not null && c.Parameters.TryGetValue(key, out var v) ? v.ToString() : null;
}
