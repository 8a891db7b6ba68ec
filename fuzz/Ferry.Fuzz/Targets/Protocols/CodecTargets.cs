using Ferry.Protocols.Codecs;

namespace Ferry.Fuzz;

/// <summary>
/// The codec payload readers a producer runs on every video packet (key frame, layers, picture ids),
/// and the VP8/VP9 rewriters a consumer runs before forwarding. Input: one RTP payload, except for
/// AV1 (see <see cref="Av1"/>).
/// </summary>
internal static class CodecTargets
{
    public static void Vp8(ReadOnlySpan<byte> input)
    {
        Summary(CodecKind.Vp8, input);
        if (Vp8PayloadDescriptor.TryParse(input, out var d))
        {
            _ = d.HasExtension | d.IsNonReference | d.IsStartOfPartition | d.HasPictureId | d.HasTl0PicIdx | d.HasTemporalLayerId | d.IsLayerSync | d.HasKeyIndex;
            _ = d.PictureIdBits + d.PictureId + d.Tl0PicIdx + d.TemporalLayerId + d.Width + d.Height;
        }
        Span<byte> copy = stackalloc byte[Math.Min(input.Length, 4096)];
        input[..copy.Length].CopyTo(copy);
        Vp8PayloadDescriptor.TryWritePictureId(copy, 0x1234);
        Vp8PayloadDescriptor.TryWriteTl0PicIdx(copy, 7);
        var rewriter = new Vp8DescriptorRewriter();
        Rewrite(copy, rewriter.TryRewrite(copy), CodecKind.Vp8);
        rewriter.SwitchSource();
        Rewrite(copy, rewriter.TryRewrite(copy), CodecKind.Vp8);
        rewriter.Drop(copy);
        _ = rewriter.LastPictureId + rewriter.LastTl0PicIdx;
    }

    public static void Vp9(ReadOnlySpan<byte> input)
    {
        Summary(CodecKind.Vp9, input);
        if (Vp9PayloadDescriptor.TryParse(input, out var d))
        {
            _ = d.HasPictureId | d.IsInterPicturePredicted | d.HasLayerIndices | d.IsFlexibleMode | d.IsStartOfFrame | d.IsEndOfFrame
                | d.HasScalabilityStructure | d.IsNotUpperLayerReference | d.IsSwitchingUpPoint | d.HasInterLayerDependency | d.IsKeyFrame;
            _ = d.SpatialLayerId + d.TemporalLayerId + d.PictureId + d.Tl0PicIdx + d.Tl0PicIdxOffset;
            for (var i = -1; i < 5; i++) d.GetReferenceDiff(i);
            var ss = d.ScalabilityStructure;
            _ = ss.SpatialLayerCount + (ss.HasResolutions ? 1 : 0) + (ss.HasPictureGroup ? 1 : 0);
            for (var layer = -1; layer < 9; layer++) ss.TryGetResolution(layer, out _, out _);
            for (var entry = -1; entry < 260; entry++) ss.TryGetPictureGroupEntry(entry, out _, out _, out _);
        }
        Vp9ScalabilityStructure.TryParse(input, out _);
        Span<byte> copy = stackalloc byte[Math.Min(input.Length, 4096)];
        input[..copy.Length].CopyTo(copy);
        Vp9PayloadDescriptor.TryWritePictureId(copy, 0x1234);
        Vp9PayloadDescriptor.TryWriteTl0PicIdx(copy, 7);
        var rewriter = new Vp9DescriptorRewriter();
        Rewrite(copy, rewriter.TryRewrite(copy), CodecKind.Vp9);
        rewriter.SwitchSource();
        Rewrite(copy, rewriter.TryRewrite(copy), CodecKind.Vp9);
        rewriter.Drop(copy);
    }

    public static void H264(ReadOnlySpan<byte> input)
    {
        Summary(CodecKind.H264, input);
        if (!H264Payload.TryParse(input, out var p)) return;
        _ = p.PacketType + p.NalUnitCount + p.FragmentNalType;
        _ = p.IsFragmentStart | p.IsFragmentEnd | p.IsKeyFrame;
        for (var nal = -1; nal < 33; nal++) p.Contains(nal);
    }

    public static void H265(ReadOnlySpan<byte> input)
    {
        Summary(CodecKind.H265, input);
        foreach (var donl in (ReadOnlySpan<bool>)[false, true])
        {
            if (!H265Payload.TryParse(input, out var p, donl)) continue;
            _ = p.PacketType + p.FragmentNalType + p.LayerId + p.TemporalId;
            _ = p.IsKeyFrame;
            for (var nal = -1; nal < 65; nal++) p.Contains(nal);
        }
    }

    public static void Opus(ReadOnlySpan<byte> input)
    {
        Summary(CodecKind.Opus, input);
        OpusPayload.IsDtxPayload(input);
        if (!OpusPayload.TryParse(input, out var p)) return;
        _ = p.IsStereo;
        _ = p.FrameDurationMicroseconds;
        for (var config = -1; config < 33; config++) OpusPayload.GetFrameDurationMicroseconds(config);
    }

    /// <summary>
    /// AV1: the input is a sequence of length-prefixed records, each a Dependency Descriptor
    /// extension value (read statefully, as a consumer's parser keeps the latest structure) followed
    /// by the payload it came with.
    /// </summary>
    public static void Av1(ReadOnlySpan<byte> input)
    {
        Summary(CodecKind.Av1, input);
        Av1Payload.TryReadLeb128(input, out _, out _);
        var parser = new Av1DependencyDescriptorParser();
        var reader = new FuzzInput(input);
        while (!reader.IsEmpty)
        {
            var descriptor = reader.Record();
            var payload = reader.Record();
            Av1DependencyDescriptor.TryParseMandatory(descriptor, out _);
            if (parser.TryParse(descriptor, out var dd)) ReadDescriptor(dd);
            if (parser.HasStructure) ReadStructure(parser.Structure);
            _ = parser.ActiveDecodeTargets;
            if (Av1Payload.TryParse(payload, out var p))
            {
                _ = p.StartsWithContinuation | p.EndsWithFragment | p.IsNewCodedVideoSequence | p.IsKeyFrame;
                _ = p.W + p.ElementCount + p.TemporalId + p.SpatialId;
                for (var obu = -1; obu < 17; obu++) p.Contains(obu);
            }
            Summary(CodecKind.Av1, payload);
            if (descriptor.Length > 0 && descriptor[0] == 0xFF) parser.Reset();
        }
    }

    private static void ReadDescriptor(in Av1DependencyDescriptor d)
    {
        _ = d.IsStartOfFrame | d.IsEndOfFrame | d.HasExtendedFields | d.HasTemplateStructure | d.HasActiveDecodeTargets
            | d.HasCustomDtis | d.HasCustomFrameDiffs | d.HasCustomChains | d.IsResolved;
        _ = d.TemplateId + d.FrameNumber + d.SpatialId + d.TemporalId + d.DecodeTargetCount + d.FrameDiffCount + d.ChainCount;
        for (var i = -1; i <= d.FrameDiffCount; i++) d.GetFrameDiff(i);
        for (var i = -1; i <= d.ChainCount; i++) d.GetChainDiff(i);
    }

    private static void ReadStructure(Av1DependencyStructure s)
    {
        _ = s.TemplateIdOffset + s.DecodeTargetCount + s.TemplateCount + s.ChainCount + s.MaxSpatialId + s.MaxTemporalId;
        for (var t = -1; t <= s.TemplateCount; t++)
        {
            s.GetTemplateSpatialId(t);
            s.GetTemplateTemporalId(t);
            s.GetTemplateFrameDiffs(t);
            for (var dt = -1; dt <= s.DecodeTargetCount; dt++) s.GetTemplateIndication(t, dt);
            for (var c = -1; c <= s.ChainCount; c++) s.GetTemplateChainDiff(t, c);
        }
        for (var dt = -1; dt <= s.DecodeTargetCount; dt++)
        {
            s.GetDecodeTargetChain(dt);
            s.GetDecodeTargetSpatialId(dt);
            s.GetDecodeTargetTemporalId(dt);
        }
        if (s.HasResolutions)
        {
            for (var spatial = -1; spatial <= s.MaxSpatialId + 1; spatial++) s.TryGetResolution(spatial, out _, out _);
        }
    }

    private static void Summary(CodecKind codec, ReadOnlySpan<byte> payload)
    {
        CodecPayload.IsKeyFrame(codec, payload);
        CodecPayload.TryRead(codec, payload, out _);
    }

    /// <summary>A descriptor the rewriter accepted must still parse afterwards, as the same codec.</summary>
    private static void Rewrite(ReadOnlySpan<byte> payload, bool rewritten, CodecKind codec)
    {
        if (rewritten && !CodecPayload.TryRead(codec, payload, out _)) throw new FuzzInvariantException($"a {codec} descriptor Ferry rewrote does not parse");
    }
}
