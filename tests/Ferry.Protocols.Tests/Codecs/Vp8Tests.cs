using Ferry.Protocols.Codecs;

namespace Ferry.Protocols.Tests.Codecs;

public class Vp8Tests
{
    // First packet of a 640x480 key frame as libwebrtc sends it: all extensions, 15-bit PictureID.
    internal static byte[] KeyFrameStart() =>
    [
        0x90,               // X=1 R=0 N=0 S=1 R=0 PID=000
        0xF0,               // I=1 L=1 T=1 K=1 RSV=0000
        0x80, 0x01,         // M=1, PictureID = 000 0000 0000 0001 = 1
        0x07,               // TL0PICIDX = 7
        0x20,               // TID=00 Y=1 KEYIDX=00000
        // VP8 payload header (RFC 6386 §9.1), little-endian frame tag:
        0x50, 0x9A, 0x00,   // 0x009A50: P=0 (key frame), VER=000, show_frame=1, first_part_size=0x4D2 (1234)
        0x9D, 0x01, 0x2A,   // start code
        0x80, 0x02,         // 0x0280: scale 00, width 640
        0xE0, 0x01,         // 0x01E0: scale 00, height 480
        0x11, 0x22,         // frame data
    ];

    // An interframe packet, continuation of partition 1, 7-bit PictureID, TL0PICIDX and TID only.
    internal static byte[] InterFrameMiddle() =>
    [
        0xA1,               // X=1 R=0 N=1 S=0 R=0 PID=001
        0xE0,               // I=1 L=1 T=1 K=0
        0x55,               // M=0, PictureID = 101 0101 = 85
        0xFE,               // TL0PICIDX = 254
        0x80,               // TID=10 Y=0 KEYIDX=00000 (K=0: not meaningful)
        0x33, 0x44, 0x55,
    ];

    [Fact]
    public void Reads_a_key_frame_start_with_every_extension()
    {
        Assert.True(Vp8PayloadDescriptor.TryParse(KeyFrameStart(), out var d));
        Assert.True(d.HasExtension);
        Assert.False(d.IsNonReference);
        Assert.True(d.IsStartOfPartition);
        Assert.Equal(0, d.PartitionId);
        Assert.True(d.IsStartOfFrame);
        Assert.True(d.HasPictureId);
        Assert.True(d.HasLongPictureId);
        Assert.Equal(15, d.PictureIdBits);
        Assert.Equal(1, d.PictureId);
        Assert.True(d.HasTl0PicIdx);
        Assert.Equal(7, d.Tl0PicIdx);
        Assert.True(d.HasTemporalLayerId);
        Assert.Equal(0, d.TemporalLayerId);
        Assert.True(d.IsLayerSync);
        Assert.True(d.HasKeyIndex);
        Assert.Equal(0, d.KeyIndex);
        Assert.Equal(6, d.Length);
        Assert.True(d.IsKeyFrame);
        Assert.Equal(640, d.Width);
        Assert.Equal(480, d.Height);
        Assert.Equal(0, d.HorizontalScale);
        Assert.Equal(0, d.VerticalScale);
        Assert.Equal(2, d.PictureIdOffset);
        Assert.Equal(4, d.Tl0PicIdxOffset);
    }

    [Fact]
    public void Reads_an_interframe_continuation()
    {
        Assert.True(Vp8PayloadDescriptor.TryParse(InterFrameMiddle(), out var d));
        Assert.True(d.IsNonReference);
        Assert.False(d.IsStartOfPartition);
        Assert.Equal(1, d.PartitionId);
        Assert.False(d.IsStartOfFrame);
        Assert.False(d.HasLongPictureId);
        Assert.Equal(7, d.PictureIdBits);
        Assert.Equal(85, d.PictureId);
        Assert.Equal(254, d.Tl0PicIdx);
        Assert.Equal(2, d.TemporalLayerId);
        Assert.False(d.IsLayerSync);
        Assert.False(d.HasKeyIndex);
        Assert.Equal(5, d.Length);
        Assert.False(d.IsKeyFrame);
        Assert.Equal(0, d.Width);
        Assert.Equal(3, d.Tl0PicIdxOffset);
    }

    [Fact]
    public void Reads_the_minimal_one_byte_descriptor()
    {
        // X=0 R=0 N=0 S=1 PID=0, then an interframe payload header (P=1).
        Assert.True(Vp8PayloadDescriptor.TryParse([0x10, 0x01, 0x00, 0x00], out var d));
        Assert.Equal(1, d.Length);
        Assert.False(d.HasPictureId);
        Assert.Equal(-1, d.PictureId);
        Assert.Equal(0, d.PictureIdBits);
        Assert.Equal(-1, d.PictureIdOffset);
        Assert.Equal(-1, d.Tl0PicIdxOffset);
        Assert.True(d.IsStartOfFrame);
        Assert.False(d.IsKeyFrame);
    }

    [Fact]
    public void Key_index_alone_uses_the_tid_byte()
    {
        // X=1, ext K=1 only: TID/Y/KEYIDX byte present with KEYIDX = 10101 = 21, TID not meaningful.
        Assert.True(Vp8PayloadDescriptor.TryParse([0x80, 0x10, 0xD5, 0x00], out var d));
        Assert.True(d.HasKeyIndex);
        Assert.False(d.HasTemporalLayerId);
        Assert.Equal(21, d.KeyIndex);
        Assert.Equal(0, d.TemporalLayerId);
        Assert.Equal(3, d.Length);
    }

    [Fact]
    public void Key_frame_needs_start_of_partition_zero_and_P_bit_zero()
    {
        // S=1 PID=0 and P=0 without the start code: still a key frame by RFC 7741's rule, size unknown.
        Assert.True(Vp8PayloadDescriptor.TryParse([0x10, 0x00, 0x00, 0x00, 0x00], out var d));
        Assert.True(d.IsKeyFrame);
        Assert.Equal(0, d.Width);
        // S=1 PID=1: partition 1 has no payload header.
        Assert.True(Vp8PayloadDescriptor.TryParse([0x11, 0x00], out d));
        Assert.False(d.IsKeyFrame);
        // S=0 PID=0.
        Assert.True(Vp8PayloadDescriptor.TryParse([0x00, 0x00], out d));
        Assert.False(d.IsKeyFrame);
        // Descriptor alone, nothing after it.
        Assert.True(Vp8PayloadDescriptor.TryParse([0x10], out d));
        Assert.False(d.IsKeyFrame);
    }

    [Fact]
    public void Reads_scale_bits_of_the_key_frame_size()
    {
        var p = KeyFrameStart();
        p[13] |= 0x40;      // horizontal scale 01
        p[15] |= 0xC0;      // vertical scale 11
        Assert.True(Vp8PayloadDescriptor.TryParse(p, out var d));
        Assert.Equal(640, d.Width);
        Assert.Equal(480, d.Height);
        Assert.Equal(1, d.HorizontalScale);
        Assert.Equal(3, d.VerticalScale);
    }

    [Fact]
    public void Rejects_truncated_descriptors()
    {
        var full = KeyFrameStart();
        for (var n = 0; n < 6; n++) Assert.False(Vp8PayloadDescriptor.TryParse(full.AsSpan(0, n), out _));
        for (var n = 6; n <= full.Length; n++)
        {
            Assert.True(Vp8PayloadDescriptor.TryParse(full.AsSpan(0, n), out var d));
            Assert.Equal(n > 6, d.IsKeyFrame);
            Assert.Equal(n >= 16 ? 640 : 0, d.Width);
        }
    }

    [Fact]
    public void Writes_picture_id_and_tl0_in_place_keeping_the_width()
    {
        var p = KeyFrameStart();
        Assert.True(Vp8PayloadDescriptor.TryWritePictureId(p, 0x1234));
        Assert.True(Vp8PayloadDescriptor.TryWriteTl0PicIdx(p, 0x99));
        Assert.Equal(new byte[] { 0x92, 0x34, 0x99 }, p[2..5]);
        Assert.True(Vp8PayloadDescriptor.TryParse(p, out var d));
        Assert.Equal(0x1234, d.PictureId);
        Assert.Equal(0x99, d.Tl0PicIdx);

        var q = InterFrameMiddle();
        Assert.True(Vp8PayloadDescriptor.TryWritePictureId(q, 0x1234));    // 7-bit field takes 0x34
        Assert.Equal(0x34, q[2]);
        Assert.False(Vp8PayloadDescriptor.TryWritePictureId([0x10, 0x00], 5));
        Assert.False(Vp8PayloadDescriptor.TryWriteTl0PicIdx([0x10, 0x00], 5));
    }
}
