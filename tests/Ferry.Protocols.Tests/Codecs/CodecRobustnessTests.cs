using Ferry.Protocols.Codecs;

namespace Ferry.Protocols.Tests.Codecs;

/// <summary>Every reader on every prefix, on random bytes and on mutated real headers: no exception, no allocation.</summary>
public class CodecRobustnessTests
{
    private static readonly CodecKind[] Kinds =
        [CodecKind.Vp8, CodecKind.Vp9, CodecKind.H264, CodecKind.H265, CodecKind.Av1, CodecKind.Opus, CodecKind.Unknown];

    private static byte[][] Samples() =>
    [
        Vp8Tests.KeyFrameStart(), Vp8Tests.InterFrameMiddle(), Vp9Tests.KeyPictureWithSs(), Vp9Tests.FlexibleInterFrame(),
        H264Tests.StapAKeyFrame(), Av1Tests.KeyFramePacket(), Av1DependencyDescriptorTests.KeyFrameWithStructure(),
        [0x62, 0x01, 0x93, 0xAF], [0x60, 0x01, 0x00, 0x03, 0x40, 0x01, 0x0C, 0x00, 0x03, 0x42, 0x01, 0x01],
        [0x83, 0x85, 1, 2, 3, 4, 5], [0xFA, 0xFC, 0x01, 1, 2],
    ];

    // Runs every reader over one input; the return values only feed a checksum so nothing is optimised away.
    private static int ReadAll(ReadOnlySpan<byte> data, Av1DependencyDescriptorParser parser, Vp8DescriptorRewriter rewriter,
        Span<byte> scratch) => ReadAll(data, parser, rewriter, Vp9Rewriter, scratch);

    private static readonly Vp9DescriptorRewriter Vp9Rewriter = new();

    private static int ReadAll(ReadOnlySpan<byte> data, Av1DependencyDescriptorParser parser, Vp8DescriptorRewriter rewriter,
        Vp9DescriptorRewriter vp9Rewriter, Span<byte> scratch)
    {
        var sum = 0;
        foreach (var kind in Kinds)
        {
            if (CodecPayload.TryRead(kind, data, out var info)) sum += info.PictureId + info.SpatialLayer;
            if (CodecPayload.IsKeyFrame(kind, data)) sum++;
        }
        if (Vp8PayloadDescriptor.TryParse(data, out var vp8)) sum += vp8.Width + vp8.Tl0PicIdxOffset;
        if (Vp9PayloadDescriptor.TryParse(data, out var vp9))
        {
            var ss = vp9.ScalabilityStructure;
            for (var i = -1; i <= ss.SpatialLayerCount; i++)
                if (ss.TryGetResolution(i, out var w, out _)) sum += w;
            for (var i = -1; i <= ss.PictureGroupCount; i++)
                if (ss.TryGetPictureGroupEntry(i, out var t, out _, out var diffs)) sum += t + diffs.Length;
            for (var i = -1; i <= 3; i++) sum += vp9.GetReferenceDiff(i);
        }
        if (H265Payload.TryParse(data, out var h265, hasDonl: true)) sum += h265.NalUnitCount;
        if (OpusPayload.TryParse(data, out var opus)) sum += opus.DurationMicroseconds + (int)opus.Bandwidth;
        if (Av1DependencyDescriptor.TryParseMandatory(data, out var m)) sum += m.FrameNumber;
        if (parser.TryParse(data, out var dd))
        {
            for (var i = -1; i <= dd.FrameDiffCount; i++) sum += dd.GetFrameDiff(i);
            for (var i = -1; i <= dd.ChainCount; i++) sum += dd.GetChainDiff(i);
            for (var i = -1; i <= 32; i++) sum += (int)dd.GetDecodeTargetIndication(i);
        }

        // In-place writers work on a copy.
        var copy = scratch[..data.Length];
        data.CopyTo(copy);
        rewriter.TryRewrite(copy);
        vp9Rewriter.TryRewrite(copy);
        if (copy.Length % 3 == 0)
        {
            rewriter.SwitchSource();
            vp9Rewriter.SwitchSource();
        }
        Vp8PayloadDescriptor.TryWritePictureId(copy, 0x7FFF);
        Vp8PayloadDescriptor.TryWriteTl0PicIdx(copy, 1);
        Vp9PayloadDescriptor.TryWritePictureId(copy, 0x7FFF);
        Vp9PayloadDescriptor.TryWriteTl0PicIdx(copy, 1);
        return sum;
    }

    [Fact]
    public void Every_prefix_of_every_sample_reads_without_exception()
    {
        var parser = new Av1DependencyDescriptorParser();
        var rewriter = new Vp8DescriptorRewriter();
        var scratch = new byte[256];
        foreach (var sample in Samples())
        {
            for (var n = 0; n <= sample.Length; n++)
            {
                // An exact-length copy: any read past the prefix would throw.
                var prefix = sample.AsSpan(0, n).ToArray();
                ReadAll(prefix, parser, rewriter, scratch);
            }
        }
    }

    [Fact]
    public void Random_inputs_read_without_exception()
    {
        var random = new Random(20240611);
        var parser = new Av1DependencyDescriptorParser();
        var rewriter = new Vp8DescriptorRewriter();
        var scratch = new byte[256];
        var buffer = new byte[64];
        for (var i = 0; i < 100_000; i++)
        {
            var length = random.Next(buffer.Length + 1);
            var input = buffer.AsSpan(0, length);
            random.NextBytes(input);
            ReadAll(input, parser, rewriter, scratch);
        }
    }

    [Fact]
    public void Mutated_real_headers_read_without_exception()
    {
        // Random bytes rarely get past the first checks; flipping bits of valid headers reaches the deeper paths.
        var random = new Random(5);
        var parser = new Av1DependencyDescriptorParser();
        var rewriter = new Vp8DescriptorRewriter();
        var scratch = new byte[256];
        var samples = Samples();
        for (var i = 0; i < 100_000; i++)
        {
            var input = (byte[])samples[random.Next(samples.Length)].Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
                input[random.Next(input.Length)] ^= (byte)(1 << random.Next(8));
            var length = random.Next(input.Length + 1);
            ReadAll(input.AsSpan(0, length).ToArray(), parser, rewriter, scratch);
            // Keep a structure in the parser now and then so later descriptors resolve against one.
            if (i % 100 == 0) parser.TryParse(Av1DependencyDescriptorTests.KeyFrameWithStructure(), out _);
        }
    }

    [Fact]
    public void Reading_allocates_nothing()
    {
        var parser = new Av1DependencyDescriptorParser();
        var rewriter = new Vp8DescriptorRewriter();
        var scratch = new byte[256];
        var samples = Samples();
        var structure = Av1DependencyDescriptorTests.KeyFrameWithStructure();
        var sum = 0;
        var rounds = new SteadyStateRounds();
        for (var round = 0; round < SteadyStateRounds.Max && !rounds.Reached; round++)
        {
            rounds.Begin();
            for (var i = 0; i < 10_000; i++)
            {
                sum += ReadAll(samples[i % samples.Length], parser, rewriter, scratch);
                sum += CodecPayload.GetKind("video/VP9") == CodecKind.Vp9 ? 1 : 0;
                parser.TryParse(structure, out _);
            }
            rounds.End();
        }
        rounds.AssertReached("10,000 reads");
        Assert.NotEqual(0, sum);
    }

    [Fact]
    public void Results_of_failed_parses_and_out_of_range_indices_read_as_empty()
    {
        Assert.False(Vp9PayloadDescriptor.TryParse([], out var vp9));
        Assert.False(vp9.IsKeyFrame);
        Assert.Equal(0, vp9.GetReferenceDiff(0));
        Assert.False(vp9.ScalabilityStructure.IsPresent);
        Assert.False(Vp8PayloadDescriptor.TryParse([], out var vp8));
        Assert.False(vp8.IsKeyFrame);
        Assert.False(H264Payload.TryParse([], out var h264));
        Assert.False(h264.IsKeyFrame);
        Assert.False(Av1DependencyDescriptor.TryParseMandatory([], out var dd));
        Assert.Equal(DecodeTargetIndication.NotPresent, dd.GetDecodeTargetIndication(0));

        var parser = new Av1DependencyDescriptorParser();
        Assert.True(parser.TryParse(Av1DependencyDescriptorTests.KeyFrameWithStructure(), out _));
        var s = parser.Structure;
        Assert.Equal(0, s.GetTemplateSpatialId(3));
        Assert.Equal(0, s.GetTemplateTemporalId(-1));
        Assert.Equal(DecodeTargetIndication.NotPresent, s.GetTemplateIndication(0, 2));
        Assert.True(s.GetTemplateFrameDiffs(64).IsEmpty);
        Assert.Equal(0, s.GetTemplateChainDiff(1, 1));
        Assert.Equal(0, s.GetDecodeTargetChain(2));
        Assert.Equal(0, s.GetDecodeTargetSpatialId(-5));
        Assert.Equal(0, s.GetDecodeTargetTemporalId(32));
        Assert.False(s.TryGetResolution(1, out _, out _));
    }
}
