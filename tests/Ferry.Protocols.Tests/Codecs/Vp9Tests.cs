using Ferry.Protocols.Codecs;

namespace Ferry.Protocols.Tests.Codecs;

public class Vp9Tests
{
    // First packet of a key picture in non-flexible mode (L3T2 as Chrome sends k-SVC), with the SS.
    internal static byte[] KeyPictureWithSs() =>
    [
        0xAA,                   // I=1 P=0 L=1 F=0 B=1 E=0 V=1 Z=0
        0x92, 0x34,             // M=1, PICTURE ID = 001 0010 0011 0100 = 0x1234
        0x00,                   // TID=000 U=0 SID=000 D=0
        0x05,                   // TL0PICIDX = 5
        0x58,                   // SS: N_S=010 (3 layers) Y=1 G=1 ---
        0x01, 0x40, 0x00, 0xB4, // layer 0: 320x180
        0x02, 0x80, 0x01, 0x68, // layer 1: 640x360
        0x05, 0x00, 0x02, 0xD0, // layer 2: 1280x720
        0x02,                   // N_G = 2
        0x04, 0x02,             // TID=000 U=0 R=01 --, P_DIFF=2
        0x34, 0x01,             // TID=001 U=1 R=01 --, P_DIFF=1
        0x82, 0x49, 0x83,       // VP9 frame data (uncompressed header start)
    ];

    // A flexible-mode packet of spatial layer 1 with two references.
    internal static byte[] FlexibleInterFrame() =>
    [
        0xFD,                   // I=1 P=1 L=1 F=1 B=1 E=1 V=0 Z=1
        0x2A,                   // M=0, PICTURE ID = 42
        0x53,                   // TID=010 U=1 SID=001 D=1
        0x03,                   // P_DIFF=1 N=1
        0x06,                   // P_DIFF=3 N=0
        0xAA, 0xBB,
    ];

    [Fact]
    public void Reads_a_key_picture_with_scalability_structure()
    {
        Assert.True(Vp9PayloadDescriptor.TryParse(KeyPictureWithSs(), out var d));
        Assert.True(d.HasPictureId);
        Assert.False(d.IsInterPicturePredicted);
        Assert.True(d.HasLayerIndices);
        Assert.False(d.IsFlexibleMode);
        Assert.True(d.IsStartOfFrame);
        Assert.False(d.IsEndOfFrame);
        Assert.True(d.HasScalabilityStructure);
        Assert.False(d.IsNotUpperLayerReference);
        Assert.True(d.HasLongPictureId);
        Assert.Equal(0x1234, d.PictureId);
        Assert.Equal(0, d.TemporalLayerId);
        Assert.Equal(0, d.SpatialLayerId);
        Assert.False(d.HasInterLayerDependency);
        Assert.True(d.HasTl0PicIdx);
        Assert.Equal(5, d.Tl0PicIdx);
        Assert.Equal(0, d.ReferenceCount);
        Assert.True(d.IsKeyFrame);
        Assert.Equal(23, d.Length);

        var ss = d.ScalabilityStructure;
        Assert.True(ss.IsPresent);
        Assert.Equal(18, ss.Length);
        Assert.Equal(3, ss.SpatialLayerCount);
        Assert.True(ss.HasResolutions);
        Assert.True(ss.HasPictureGroup);
        Assert.True(ss.TryGetResolution(0, out var w, out var h));
        Assert.Equal((320, 180), (w, h));
        Assert.True(ss.TryGetResolution(2, out w, out h));
        Assert.Equal((1280, 720), (w, h));
        Assert.False(ss.TryGetResolution(3, out _, out _));
        Assert.Equal(2, ss.PictureGroupCount);
        Assert.True(ss.TryGetPictureGroupEntry(0, out var tid, out var u, out var diffs));
        Assert.Equal((0, false), (tid, u));
        Assert.Equal(new byte[] { 2 }, diffs.ToArray());
        Assert.True(ss.TryGetPictureGroupEntry(1, out tid, out u, out diffs));
        Assert.Equal((1, true), (tid, u));
        Assert.Equal(new byte[] { 1 }, diffs.ToArray());
        Assert.False(ss.TryGetPictureGroupEntry(2, out _, out _, out _));
    }

    [Fact]
    public void Reads_flexible_mode_references_and_layer_bits()
    {
        Assert.True(Vp9PayloadDescriptor.TryParse(FlexibleInterFrame(), out var d));
        Assert.True(d.IsFlexibleMode);
        Assert.True(d.IsInterPicturePredicted);
        Assert.True(d.IsStartOfFrame);
        Assert.True(d.IsEndOfFrame);
        Assert.True(d.IsNotUpperLayerReference);
        Assert.False(d.HasLongPictureId);
        Assert.Equal(42, d.PictureId);
        Assert.Equal(2, d.TemporalLayerId);
        Assert.True(d.IsSwitchingUpPoint);
        Assert.Equal(1, d.SpatialLayerId);
        Assert.True(d.HasInterLayerDependency);
        Assert.False(d.HasTl0PicIdx);
        Assert.Equal(2, d.ReferenceCount);
        Assert.Equal(1, d.GetReferenceDiff(0));
        Assert.Equal(3, d.GetReferenceDiff(1));
        Assert.Equal(0, d.GetReferenceDiff(2));
        Assert.False(d.ScalabilityStructure.IsPresent);
        Assert.Equal(0, d.ScalabilityStructure.SpatialLayerCount);
        Assert.False(d.IsKeyFrame);
        Assert.Equal(5, d.Length);
    }

    [Fact]
    public void Key_frame_rule_is_P0_B1_SID0()
    {
        // Upper spatial layer of the key picture: P=0 B=1 but SID=1, D=1.
        Assert.True(Vp9PayloadDescriptor.TryParse([0xA8, 0x01, 0x03, 0x05], out var d));
        Assert.Equal(1, d.SpatialLayerId);
        Assert.False(d.IsKeyFrame);
        // Middle packet of a key frame: B=0.
        Assert.True(Vp9PayloadDescriptor.TryParse([0xA0, 0x01, 0x00, 0x05], out d));
        Assert.False(d.IsKeyFrame);
        // No layer indices at all: single-layer stream, P=0 B=1.
        Assert.True(Vp9PayloadDescriptor.TryParse([0x8C, 0x01, 0x00], out d));
        Assert.False(d.HasLayerIndices);
        Assert.True(d.IsKeyFrame);
        Assert.Equal(2, d.Length);
    }

    [Fact]
    public void Ss_without_resolutions_or_group()
    {
        // I=0 P=0 L=0 F=0 B=1 E=1 V=1 Z=0, SS: N_S=000 Y=0 G=0.
        Assert.True(Vp9PayloadDescriptor.TryParse([0x0E, 0x00, 0x99], out var d));
        Assert.Equal(1, d.ScalabilityStructure.SpatialLayerCount);
        Assert.False(d.ScalabilityStructure.HasResolutions);
        Assert.False(d.ScalabilityStructure.TryGetResolution(0, out _, out _));
        Assert.Equal(0, d.ScalabilityStructure.PictureGroupCount);
        Assert.Equal(2, d.Length);
        Assert.Equal(-1, d.PictureId);
    }

    [Fact]
    public void Rejects_more_than_three_p_diffs_and_truncations()
    {
        // Four P_DIFFs, each with N=1 but the last.
        Assert.False(Vp9PayloadDescriptor.TryParse([0xD0, 0x01, 0x03, 0x03, 0x03, 0x02], out _));
        var full = KeyPictureWithSs();
        for (var n = 0; n < 23; n++) Assert.False(Vp9PayloadDescriptor.TryParse(full.AsSpan(0, n), out _));
        Assert.True(Vp9PayloadDescriptor.TryParse(full.AsSpan(0, 23), out _));
        var flex = FlexibleInterFrame();
        for (var n = 0; n < 5; n++) Assert.False(Vp9PayloadDescriptor.TryParse(flex.AsSpan(0, n), out _));
    }

    [Fact]
    public void Writes_picture_id_and_tl0_in_place()
    {
        var p = KeyPictureWithSs();
        Assert.True(Vp9PayloadDescriptor.TryWritePictureId(p, 0x0005));
        Assert.True(Vp9PayloadDescriptor.TryWriteTl0PicIdx(p, 0xEE));
        Assert.True(Vp9PayloadDescriptor.TryParse(p, out var d));
        Assert.Equal(5, d.PictureId);
        Assert.True(d.HasLongPictureId);
        Assert.Equal(0xEE, d.Tl0PicIdx);
        Assert.Equal(23, d.Length);

        var f = FlexibleInterFrame();
        Assert.True(Vp9PayloadDescriptor.TryWritePictureId(f, 0x1FF));
        Assert.Equal(0x7F, f[1]);
        Assert.False(Vp9PayloadDescriptor.TryWriteTl0PicIdx(f, 1));
    }
}
