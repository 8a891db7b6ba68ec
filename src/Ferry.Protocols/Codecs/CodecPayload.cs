namespace Ferry.Protocols.Codecs;

/// <summary>The codecs whose RTP payloads Ferry reads.</summary>
public enum CodecKind : byte
{
    /// <summary>Any other codec: nothing is read from its payload.</summary>
    Unknown,
    /// <summary>audio/opus (RFC 7587, RFC 6716).</summary>
    Opus,
    /// <summary>video/VP8 (RFC 7741).</summary>
    Vp8,
    /// <summary>video/VP9 (RFC 9628).</summary>
    Vp9,
    /// <summary>video/H264 (RFC 6184).</summary>
    H264,
    /// <summary>video/H265 (RFC 7798).</summary>
    H265,
    /// <summary>video/AV1 (AOM AV1 RTP payload format).</summary>
    Av1,
}

/// <summary>
/// What the engine reads from one RTP payload, whatever its codec. Fields a codec's payload does not carry
/// are -1 (numbers) or null (frame boundaries).
/// </summary>
public readonly record struct PayloadDescriptorInfo
{
    /// <summary>The codec the payload was read as.</summary>
    public CodecKind Codec { get; init; }

    /// <summary>The packet starts a frame a receiver can begin decoding from (each codec's rule on its reader).</summary>
    public bool IsKeyFrame { get; init; }

    /// <summary>The packet starts a frame, when the payload says so (VP8 S and PID 0, VP9 B, Opus always).</summary>
    public bool? IsStartOfFrame { get; init; }

    /// <summary>The packet ends a frame, when the payload says so (VP9 E, Opus always); else use the marker bit.</summary>
    public bool? IsEndOfFrame { get; init; }

    /// <summary>Spatial layer (VP9 SID, H.265 nuh_layer_id, AV1 OBU spatial_id), or -1.</summary>
    public int SpatialLayer { get; init; }

    /// <summary>Temporal layer (VP8/VP9 TID, H.265 TemporalId, AV1 OBU temporal_id), or -1.</summary>
    public int TemporalLayer { get; init; }

    /// <summary>The frame is a switching point up to its temporal layer (VP8 Y, VP9 U).</summary>
    public bool IsLayerSync { get; init; }

    /// <summary>VP8/VP9 picture ID, or -1.</summary>
    public int PictureId { get; init; }

    /// <summary>Width of the picture ID field: 7, 15, or 0 without one.</summary>
    public int PictureIdBits { get; init; }

    /// <summary>VP8/VP9 TL0PICIDX, or -1.</summary>
    public int Tl0PicIdx { get; init; }

    /// <summary>Frame width from a key frame header (VP8) or scalability structure (VP9, layer 0), or 0.</summary>
    public int Width { get; init; }

    /// <summary>Frame height, as <see cref="Width"/>.</summary>
    public int Height { get; init; }
}

/// <summary>One entry point per packet for the engine: codec from MIME type, key frame test, payload summary.</summary>
public static class CodecPayload
{
    /// <summary>
    /// The codec of a MIME type such as "video/VP8" (case-insensitive; "video/HEVC" is taken as H.265).
    /// <see cref="CodecKind.Unknown"/> for anything else.
    /// </summary>
    public static CodecKind GetKind(ReadOnlySpan<char> mimeType)
    {
        if (Is(mimeType, "audio/opus")) return CodecKind.Opus;
        if (Is(mimeType, "video/VP8")) return CodecKind.Vp8;
        if (Is(mimeType, "video/VP9")) return CodecKind.Vp9;
        if (Is(mimeType, "video/H264")) return CodecKind.H264;
        if (Is(mimeType, "video/H265") || Is(mimeType, "video/HEVC")) return CodecKind.H265;
        if (Is(mimeType, "video/AV1")) return CodecKind.Av1;
        return CodecKind.Unknown;

        static bool Is(ReadOnlySpan<char> value, string expected) =>
            value.Equals(expected, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Whether the payload starts a key frame. False for audio, unknown codecs and unreadable payloads.</summary>
    public static bool IsKeyFrame(CodecKind codec, ReadOnlySpan<byte> payload)
    {
        switch (codec)
        {
            case CodecKind.Vp8: return Vp8PayloadDescriptor.TryParse(payload, out var vp8) && vp8.IsKeyFrame;
            case CodecKind.Vp9: return Vp9PayloadDescriptor.TryParse(payload, out var vp9) && vp9.IsKeyFrame;
            case CodecKind.H264: return H264Payload.TryParse(payload, out var h264) && h264.IsKeyFrame;
            case CodecKind.H265: return H265Payload.TryParse(payload, out var h265) && h265.IsKeyFrame;
            case CodecKind.Av1: return Av1Payload.TryParse(payload, out var av1) && av1.IsKeyFrame;
            default: return false;
        }
    }

    /// <summary>Whether the payload starts a key frame, the codec given by its MIME type.</summary>
    public static bool IsKeyFrame(ReadOnlySpan<char> mimeType, ReadOnlySpan<byte> payload) =>
        IsKeyFrame(GetKind(mimeType), payload);

    /// <summary>
    /// Reads what the engine needs from a payload. False for an unknown codec or a payload its reader rejects.
    /// For AV1 the layers come from OBU extension headers when present; the Dependency Descriptor extension,
    /// read with <see cref="Av1DependencyDescriptorParser"/>, is the better source.
    /// </summary>
    public static bool TryRead(CodecKind codec, ReadOnlySpan<byte> payload, out PayloadDescriptorInfo info)
    {
        info = default;
        var empty = new PayloadDescriptorInfo
        {
            Codec = codec, SpatialLayer = -1, TemporalLayer = -1, PictureId = -1, Tl0PicIdx = -1,
        };
        switch (codec)
        {
            case CodecKind.Vp8:
            {
                if (!Vp8PayloadDescriptor.TryParse(payload, out var d)) return false;
                info = empty with
                {
                    IsKeyFrame = d.IsKeyFrame,
                    IsStartOfFrame = d.IsStartOfFrame,
                    TemporalLayer = d.HasTemporalLayerId ? d.TemporalLayerId : -1,
                    IsLayerSync = d.IsLayerSync,
                    PictureId = d.PictureId,
                    PictureIdBits = d.PictureIdBits,
                    Tl0PicIdx = d.HasTl0PicIdx ? d.Tl0PicIdx : -1,
                    Width = d.Width,
                    Height = d.Height,
                };
                return true;
            }
            case CodecKind.Vp9:
            {
                if (!Vp9PayloadDescriptor.TryParse(payload, out var d)) return false;
                d.ScalabilityStructure.TryGetResolution(0, out var width, out var height);
                info = empty with
                {
                    IsKeyFrame = d.IsKeyFrame,
                    IsStartOfFrame = d.IsStartOfFrame,
                    IsEndOfFrame = d.IsEndOfFrame,
                    SpatialLayer = d.HasLayerIndices ? d.SpatialLayerId : -1,
                    TemporalLayer = d.HasLayerIndices ? d.TemporalLayerId : -1,
                    IsLayerSync = d.IsSwitchingUpPoint,
                    PictureId = d.PictureId,
                    PictureIdBits = d.HasPictureId ? (d.HasLongPictureId ? 15 : 7) : 0,
                    Tl0PicIdx = d.HasTl0PicIdx ? d.Tl0PicIdx : -1,
                    Width = width,
                    Height = height,
                };
                return true;
            }
            case CodecKind.H264:
            {
                if (!H264Payload.TryParse(payload, out var p)) return false;
                info = empty with { IsKeyFrame = p.IsKeyFrame };
                return true;
            }
            case CodecKind.H265:
            {
                if (!H265Payload.TryParse(payload, out var p)) return false;
                info = empty with { IsKeyFrame = p.IsKeyFrame, SpatialLayer = p.LayerId, TemporalLayer = p.TemporalId };
                return true;
            }
            case CodecKind.Av1:
            {
                if (!Av1Payload.TryParse(payload, out var p)) return false;
                info = empty with { IsKeyFrame = p.IsKeyFrame, SpatialLayer = p.SpatialId, TemporalLayer = p.TemporalId };
                return true;
            }
            case CodecKind.Opus:
            {
                if (!OpusPayload.TryParse(payload, out _)) return false;
                info = empty with { IsStartOfFrame = true, IsEndOfFrame = true };
                return true;
            }
            default:
                return false;
        }
    }
}
