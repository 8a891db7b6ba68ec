using Ferry.Protocols.Codecs;

namespace Ferry.Rtp;

/// <summary>The engine's questions to the codec payload readers of Ferry.Protocols.</summary>
internal static class PayloadCodecs
{
    public static CodecKind FromMimeType(string mimeType) =>
        // multiopus carries Opus frames; H264-SVC uses H.264's NAL packetization.
        mimeType.ToLowerInvariant() switch
        {
            "audio/multiopus" => CodecKind.Opus,
            "video/h264-svc" => CodecKind.H264,
            _ => CodecPayload.GetKind(mimeType),
        };

    /// <summary>True when the codec has key frames the engine can recognise (consumers then sync on them).</summary>
    public static bool SupportsKeyFrames(CodecKind codec) => codec is CodecKind.Vp8 or CodecKind.Vp9 or CodecKind.H264 or CodecKind.H265 or CodecKind.Av1;
}
