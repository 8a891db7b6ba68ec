using Ferry.Protocols.Codecs;

namespace Ferry.Protocols.Tests.Codecs;

public class Vp9RewriterTests
{
    // Non-flexible: I=1 L=1 B=1 E=1, 15-bit picture ID, L byte with SID, TL0PICIDX, one data byte.
    private static byte[] NonFlexible(int pictureId, int sid, byte tl0) =>
        [0xAC, (byte)(0x80 | pictureId >> 8), (byte)pictureId, (byte)(sid << 1), tl0, 0xEE];

    // Flexible: I=1 P=1 L=1 F=1 B=1 E=1, 7-bit picture ID, L byte, one P_DIFF of 1.
    private static byte[] Flexible(int pictureId) => [0xFC, (byte)(pictureId & 0x7F), 0x00, 0x02, 0xEE];

    private static (int PictureId, int Tl0, int Sid) Read(byte[] p)
    {
        Assert.True(Vp9PayloadDescriptor.TryParse(p, out var d));
        return (d.PictureId, d.HasTl0PicIdx ? d.Tl0PicIdx : -1, d.SpatialLayerId);
    }

    [Fact]
    public void Spatial_layers_of_one_picture_keep_sharing_the_rewritten_id()
    {
        var r = new Vp9DescriptorRewriter();
        r.TryRewrite(NonFlexible(10, 0, 3));
        r.SwitchSource();
        byte[][] picture = [NonFlexible(7000, 0, 90), NonFlexible(7000, 1, 90), NonFlexible(7000, 2, 90)];
        foreach (var p in picture) Assert.True(r.TryRewrite(p));
        Assert.Equal([(11, 4, 0), (11, 4, 1), (11, 4, 2)], picture.Select(Read));
        var next = NonFlexible(7001, 0, 91);
        r.TryRewrite(next);
        Assert.Equal((12, 5, 0), Read(next));
        Assert.Equal(0xEE, next[^1]);
        Assert.Equal(12, r.LastPictureId);
        Assert.Equal(5, r.LastTl0PicIdx);
    }

    [Fact]
    public void Flexible_mode_keeps_width_and_p_diffs()
    {
        var r = new Vp9DescriptorRewriter();
        r.TryRewrite(NonFlexible(0x7FFF, 0, 0));
        r.SwitchSource();
        var a = Flexible(127);
        var b = Flexible(0);
        r.TryRewrite(a);
        r.TryRewrite(b);
        Assert.Equal(0, Read(a).PictureId);          // 0x8000 wraps to 0, 7 bits
        Assert.Equal(1, Read(b).PictureId);
        Assert.Equal(5, b.Length);
        Assert.True(Vp9PayloadDescriptor.TryParse(b, out var d));
        Assert.Equal(1, d.GetReferenceDiff(0));
        Assert.False(r.TryRewrite([0x80]));
    }
}
