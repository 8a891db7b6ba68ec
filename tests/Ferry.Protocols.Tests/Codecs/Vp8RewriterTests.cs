using Ferry.Protocols.Codecs;

namespace Ferry.Protocols.Tests.Codecs;

public class Vp8RewriterTests
{
    // X=1 S=1, I=1 L=1 T=1, 15-bit PictureID, TL0PICIDX, TID byte, two payload bytes.
    private static byte[] Long(int pictureId, byte tl0, int tid = 0) =>
        [0x90, 0xE0, (byte)(0x80 | pictureId >> 8), (byte)pictureId, tl0, (byte)(tid << 6), 0xAB, 0xCD];

    // Same with a 7-bit PictureID.
    private static byte[] Short(int pictureId, byte tl0, int tid = 0) =>
        [0x90, 0xE0, (byte)(pictureId & 0x7F), tl0, (byte)(tid << 6), 0xAB, 0xCD];

    private static (int PictureId, int Tl0, int Bits) Read(byte[] p)
    {
        Assert.True(Vp8PayloadDescriptor.TryParse(p, out var d));
        return (d.PictureId, d.Tl0PicIdx, d.PictureIdBits);
    }

    [Fact]
    public void First_source_passes_through_unchanged()
    {
        var r = new Vp8DescriptorRewriter();
        Assert.Equal(-1, r.LastPictureId);
        for (var i = 0; i < 5; i++)
        {
            var p = Long(1000 + i, (byte)(50 + i));
            var before = (byte[])p.Clone();
            Assert.True(r.TryRewrite(p));
            Assert.Equal(before, p);
        }
        Assert.Equal(1004, r.LastPictureId);
        Assert.Equal(54, r.LastTl0PicIdx);
    }

    [Fact]
    public void Switching_source_continues_picture_id_and_tl0()
    {
        var r = new Vp8DescriptorRewriter();
        for (var i = 0; i < 3; i++) r.TryRewrite(Long(100 + i, (byte)(10 + i)));

        r.SwitchSource();
        var outputs = new List<(int, int, int)>();
        for (var i = 0; i < 3; i++)
        {
            var p = Long(20000 + i, (byte)(200 + i));
            Assert.True(r.TryRewrite(p));
            outputs.Add(Read(p));
        }
        Assert.Equal([(103, 13, 15), (104, 14, 15), (105, 15, 15)], outputs);

        // And back to the first source, whose own values went on meanwhile.
        r.SwitchSource();
        var q = Long(150, 60);
        r.TryRewrite(q);
        Assert.Equal((106, 16, 15), Read(q));
    }

    [Fact]
    public void Packets_of_one_picture_keep_one_id_and_reordering_is_kept()
    {
        var r = new Vp8DescriptorRewriter();
        r.TryRewrite(Long(500, 1));
        r.SwitchSource();
        byte[][] packets = [Long(7, 90), Long(7, 90), Long(9, 91), Long(8, 90), Long(10, 91)];
        foreach (var p in packets) r.TryRewrite(p);
        Assert.Equal([501, 501, 503, 502, 504], packets.Select(p => Read(p).PictureId));
        Assert.Equal([2, 2, 3, 2, 3], packets.Select(p => Read(p).Tl0));
        Assert.Equal(504, r.LastPictureId);
    }

    [Fact]
    public void A_seven_bit_field_stays_seven_bits_and_wraps_continuously()
    {
        var r = new Vp8DescriptorRewriter();
        r.TryRewrite(Long(300, 255));
        r.SwitchSource();
        int[] source = [125, 126, 127, 0, 1];
        var written = new List<int>();
        foreach (var id in source)
        {
            var p = Short(id, 0);
            Assert.True(r.TryRewrite(p));
            Assert.Equal(7, p.Length);                  // no byte added
            Assert.Equal(0, p[2] & 0x80);               // M stays 0
            written.Add(Read(p).PictureId);
        }
        // 301..305 truncated to 7 bits.
        Assert.Equal([301 & 0x7F, 302 & 0x7F, 303 & 0x7F, 304 & 0x7F, 305 & 0x7F], written);
        Assert.Equal(305, r.LastPictureId);

        // Back to a 15-bit source: it continues from the unwrapped count.
        r.SwitchSource();
        var q = Long(9, 0);
        r.TryRewrite(q);
        Assert.Equal((306, 1, 15), Read(q));
    }

    [Fact]
    public void A_fifteen_bit_field_stays_fifteen_bits_with_small_values_and_wraps_at_32768()
    {
        var r = new Vp8DescriptorRewriter();
        r.TryRewrite(Long(0x7FFE, 0));
        r.SwitchSource();
        var a = Long(3, 0);
        var b = Long(4, 0);
        var c = Long(5, 0);
        r.TryRewrite(a);
        r.TryRewrite(b);
        r.TryRewrite(c);
        Assert.Equal(0x7FFF, Read(a).PictureId);
        Assert.Equal(0, Read(b).PictureId);
        Assert.Equal(1, Read(c).PictureId);
        Assert.Equal(0x80, c[2]);                       // M=1 kept for value 1
        Assert.Equal(8, c.Length);
        Assert.Equal(15, Read(c).Bits);
    }

    [Fact]
    public void Rewriting_touches_only_picture_id_and_tl0()
    {
        var r = new Vp8DescriptorRewriter();
        r.TryRewrite(Long(42, 42));
        r.SwitchSource();
        var p = Vp8Tests.KeyFrameStart();
        var before = (byte[])p.Clone();
        Assert.True(r.TryRewrite(p));
        Assert.True(Vp8PayloadDescriptor.TryParse(before, out var x));
        Assert.True(Vp8PayloadDescriptor.TryParse(p, out var y));
        Assert.Equal(43, y.PictureId);
        Assert.Equal(43, y.Tl0PicIdx);
        Assert.Equal(x.Length, y.Length);
        Assert.Equal(x.IsKeyFrame, y.IsKeyFrame);
        Assert.Equal(x.TemporalLayerId, y.TemporalLayerId);
        Assert.Equal(x.IsLayerSync, y.IsLayerSync);
        Assert.Equal(x.KeyIndex, y.KeyIndex);
        Assert.Equal((x.Width, x.Height), (y.Width, y.Height));
        Assert.Equal(before[..2], p[..2]);
        Assert.Equal(before[5..], p[5..]);
    }

    [Fact]
    public void Packets_without_fields_are_left_alone_and_bad_ones_rejected()
    {
        var r = new Vp8DescriptorRewriter();
        byte[] bare = [0x10, 0x01, 0x02];
        Assert.True(r.TryRewrite(bare));
        Assert.Equal(new byte[] { 0x10, 0x01, 0x02 }, bare);
        byte[] truncated = [0x90, 0x80, 0x80];
        Assert.False(r.TryRewrite(truncated));
        Assert.Equal(new byte[] { 0x90, 0x80, 0x80 }, truncated);
        Assert.Equal(-1, r.LastPictureId);
    }

    [Fact]
    public void Round_trip_over_many_switches_is_strictly_continuous()
    {
        var r = new Vp8DescriptorRewriter();
        var random = new Random(7);
        var expected = -1;
        var expectedTl0 = -1;
        for (var source = 0; source < 50; source++)
        {
            if (source > 0) r.SwitchSource();
            var start = random.Next(0x8000);
            var tl0Start = random.Next(256);
            var longField = random.Next(2) == 0;
            for (var i = 0; i < 200; i++)
            {
                var p = longField ? Long((start + i) & 0x7FFF, (byte)(tl0Start + i)) : Short(start + i, (byte)(tl0Start + i));
                Assert.True(r.TryRewrite(p));
                var (id, tl0, bits) = Read(p);
                var mask = bits == 15 ? 0x7FFF : 0x7F;
                if (expected >= 0)
                {
                    Assert.Equal((expected + 1) & mask, id);
                    Assert.Equal((expectedTl0 + 1) & 0xFF, tl0);
                }
                expected = r.LastPictureId;
                expectedTl0 = r.LastTl0PicIdx;
                Assert.Equal(expected & mask, id);
            }
        }
    }
    [Fact]
    public void Dropped_pictures_leave_no_hole_and_count_once_whatever_their_packets()
    {
        var r = new Vp8DescriptorRewriter();
        // Temporal pattern 0,2,1,2 with layer 2 dropped: pictures 10, 12, 14 go out as 10, 11, 12.
        var sent = new List<int>();
        foreach (var (id, tid) in new[] { (10, 0), (11, 2), (11, 2), (12, 1), (13, 2), (14, 0) })
        {
            var p = Long(id, 5, tid);
            if (tid == 2) Assert.True(r.Drop(p));
            else
            {
                Assert.True(r.TryRewrite(p, out var written, out _));
                Assert.Equal(Read(p).PictureId, written);
                sent.Add(written);
            }
        }
        Assert.Equal([10, 11, 12], sent);
    }

    [Fact]
    public void A_late_packet_from_before_a_drop_keeps_the_number_it_had()
    {
        var r = new Vp8DescriptorRewriter();
        var a = Long(100, 1);
        var late = Long(101, 1);
        r.TryRewrite(a);
        r.Drop(Long(102, 1, tid: 2));
        var next = Long(103, 1);
        r.TryRewrite(next);
        r.TryRewrite(late);
        Assert.Equal(100, Read(a).PictureId);
        Assert.Equal(102, Read(next).PictureId);
        Assert.Equal(101, Read(late).PictureId);
    }

    [Fact]
    public void A_drop_before_the_first_packet_of_a_new_source_changes_nothing()
    {
        var r = new Vp8DescriptorRewriter();
        r.TryRewrite(Long(50, 1));
        r.SwitchSource();
        r.Drop(Long(7000, 9, tid: 2));
        var key = Long(7001, 10);
        r.TryRewrite(key);
        Assert.Equal((51, 2, 15), Read(key));
        Assert.False(r.Drop([0x90, 0x80, 0x80]));
    }
}
