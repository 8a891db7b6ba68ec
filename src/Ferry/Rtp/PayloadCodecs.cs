namespace Ferry.Rtp;

/// <summary>The codecs whose payloads the engine looks into (key frames, layers).</summary>
internal enum PayloadCodec : byte
{
    Other,
    Opus,
    Vp8,
    Vp9,
    H264,
    H265,
    Av1,
}

/// <summary>Maps mime types to <see cref="PayloadCodec"/> and answers "is this a key frame".</summary>
internal static class PayloadCodecs
{
    public static PayloadCodec FromMimeType(string mimeType) => mimeType.ToLowerInvariant() switch
    {
        "audio/opus" or "audio/multiopus" => PayloadCodec.Opus,
        "video/vp8" => PayloadCodec.Vp8,
        "video/vp9" => PayloadCodec.Vp9,
        "video/h264" or "video/h264-svc" => PayloadCodec.H264,
        "video/h265" => PayloadCodec.H265,
        "video/av1" => PayloadCodec.Av1,
        _ => PayloadCodec.Other,
    };

    /// <summary>True when the codec has key frames the engine can recognise (consumers then sync on them).</summary>
    public static bool SupportsKeyFrames(PayloadCodec codec) => codec is PayloadCodec.Vp8 or PayloadCodec.Vp9 or PayloadCodec.H264 or PayloadCodec.H265 or PayloadCodec.Av1;

    public static bool IsKeyFrame(PayloadCodec codec, ReadOnlySpan<byte> payload) => codec switch
    {
        PayloadCodec.Vp8 => IsVp8KeyFrame(payload),
        PayloadCodec.H264 => IsH264KeyFrame(payload),
        _ => false,
    };

    // RFC 7741 §4.2-4.3: skip the descriptor; a key frame starts a partition 0 with the P bit clear.
    private static bool IsVp8KeyFrame(ReadOnlySpan<byte> p)
    {
        if (p.Length < 1) return false;
        var offset = 1;
        var start = (p[0] & 0x10) != 0;
        var partition = p[0] & 0x07;
        if ((p[0] & 0x80) != 0)
        {
            if (p.Length < 2) return false;
            var x = p[1];
            offset = 2;
            if ((x & 0x80) != 0)
            {
                if (p.Length <= offset) return false;
                offset += (p[offset] & 0x80) != 0 ? 2 : 1;
            }
            if ((x & 0x40) != 0) offset++;
            if ((x & 0x30) != 0) offset++;
        }
        return start && partition == 0 && p.Length > offset && (p[offset] & 0x01) == 0;
    }

    // RFC 6184: an IDR slice (5) or SPS (7), single, in STAP-A or as an FU-A start.
    private static bool IsH264KeyFrame(ReadOnlySpan<byte> p)
    {
        if (p.Length < 1) return false;
        var type = p[0] & 0x1F;
        switch (type)
        {
            case 5 or 7:
                return true;
            case 24:
                for (var i = 1; i + 2 < p.Length;)
                {
                    var size = (p[i] << 8) | p[i + 1];
                    var nal = p[i + 2] & 0x1F;
                    if (nal is 5 or 7) return true;
                    i += 2 + size;
                }
                return false;
            case 28:
                return p.Length >= 2 && (p[1] & 0x80) != 0 && (p[1] & 0x1F) is 5 or 7;
            default:
                return false;
        }
    }
}
