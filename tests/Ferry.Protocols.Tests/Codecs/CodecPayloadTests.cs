using Ferry.Protocols.Codecs;

namespace Ferry.Protocols.Tests.Codecs;

public class CodecPayloadTests
{
    [Theory]
    [InlineData("audio/opus", CodecKind.Opus)]
    [InlineData("video/VP8", CodecKind.Vp8)]
    [InlineData("video/vp8", CodecKind.Vp8)]
    [InlineData("video/VP9", CodecKind.Vp9)]
    [InlineData("video/H264", CodecKind.H264)]
    [InlineData("video/h265", CodecKind.H265)]
    [InlineData("video/HEVC", CodecKind.H265)]
    [InlineData("video/AV1", CodecKind.Av1)]
    [InlineData("video/rtx", CodecKind.Unknown)]
    [InlineData("VP8", CodecKind.Unknown)]
    [InlineData("", CodecKind.Unknown)]
    public void Maps_mime_types(string mimeType, CodecKind kind) => Assert.Equal(kind, CodecPayload.GetKind(mimeType));

    [Fact]
    public void Detects_key_frames_for_every_codec()
    {
        Assert.True(CodecPayload.IsKeyFrame("video/VP8", Vp8Tests.KeyFrameStart()));
        Assert.False(CodecPayload.IsKeyFrame("video/VP8", Vp8Tests.InterFrameMiddle()));
        Assert.True(CodecPayload.IsKeyFrame(CodecKind.Vp9, Vp9Tests.KeyPictureWithSs()));
        Assert.False(CodecPayload.IsKeyFrame(CodecKind.Vp9, Vp9Tests.FlexibleInterFrame()));
        Assert.True(CodecPayload.IsKeyFrame(CodecKind.H264, H264Tests.StapAKeyFrame()));
        Assert.False(CodecPayload.IsKeyFrame(CodecKind.H264, [0x41, 0x9A]));
        Assert.True(CodecPayload.IsKeyFrame(CodecKind.H265, [0x26, 0x01, 0xAF]));
        Assert.True(CodecPayload.IsKeyFrame(CodecKind.Av1, Av1Tests.KeyFramePacket()));
        Assert.False(CodecPayload.IsKeyFrame(CodecKind.Opus, [0x78, 0x01]));
        Assert.False(CodecPayload.IsKeyFrame(CodecKind.Unknown, [0x10, 0x00]));
        Assert.False(CodecPayload.IsKeyFrame(CodecKind.Vp8, []));
    }

    [Fact]
    public void Summarises_vp8()
    {
        Assert.True(CodecPayload.TryRead(CodecKind.Vp8, Vp8Tests.KeyFrameStart(), out var i));
        Assert.Equal(new PayloadDescriptorInfo
        {
            Codec = CodecKind.Vp8, IsKeyFrame = true, IsStartOfFrame = true, IsEndOfFrame = null,
            SpatialLayer = -1, TemporalLayer = 0, IsLayerSync = true, PictureId = 1, PictureIdBits = 15,
            Tl0PicIdx = 7, Width = 640, Height = 480,
        }, i);
    }

    [Fact]
    public void Summarises_vp9()
    {
        Assert.True(CodecPayload.TryRead(CodecKind.Vp9, Vp9Tests.FlexibleInterFrame(), out var i));
        Assert.Equal(new PayloadDescriptorInfo
        {
            Codec = CodecKind.Vp9, IsKeyFrame = false, IsStartOfFrame = true, IsEndOfFrame = true,
            SpatialLayer = 1, TemporalLayer = 2, IsLayerSync = true, PictureId = 42, PictureIdBits = 7,
            Tl0PicIdx = -1,
        }, i);
        Assert.True(CodecPayload.TryRead(CodecKind.Vp9, Vp9Tests.KeyPictureWithSs(), out i));
        Assert.True(i.IsKeyFrame);
        Assert.Equal((320, 180), (i.Width, i.Height));
        Assert.Equal(5, i.Tl0PicIdx);
    }

    [Fact]
    public void Summarises_the_others()
    {
        Assert.True(CodecPayload.TryRead(CodecKind.H264, H264Tests.StapAKeyFrame(), out var i));
        Assert.True(i.IsKeyFrame);
        Assert.Null(i.IsStartOfFrame);
        Assert.Equal(-1, i.PictureId);
        Assert.Equal(-1, i.TemporalLayer);

        Assert.True(CodecPayload.TryRead(CodecKind.H265, [0x03, 0x0B, 0x00], out i));
        Assert.Equal((33, 2), (i.SpatialLayer, i.TemporalLayer));

        Assert.True(CodecPayload.TryRead(CodecKind.Av1, Av1Tests.KeyFramePacket(), out i));
        Assert.True(i.IsKeyFrame);
        Assert.Equal((1, 2), (i.SpatialLayer, i.TemporalLayer));

        Assert.True(CodecPayload.TryRead(CodecKind.Opus, [0xFC, 0x01, 0x02], out i));
        Assert.Equal(true, i.IsStartOfFrame);
        Assert.Equal(true, i.IsEndOfFrame);
        Assert.False(i.IsKeyFrame);

        Assert.False(CodecPayload.TryRead(CodecKind.Unknown, [0x00], out _));
        Assert.False(CodecPayload.TryRead(CodecKind.Vp9, [], out _));
    }
}
