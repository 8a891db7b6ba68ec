using Ferry.Protocols.Codecs;

namespace Ferry.Protocols.Tests.Codecs;

public class H264Tests
{
    // STAP-A with SPS, PPS and an IDR slice, as a browser sends the start of a key frame.
    internal static byte[] StapAKeyFrame() =>
    [
        0x78,                               // F=0 NRI=11 Type=24 (STAP-A)
        0x00, 0x04,                         // NALU 1 size 4
        0x67, 0x42, 0xC0, 0x1F,             // F=0 NRI=11 Type=7 (SPS), profile 66, constraints, level 3.1
        0x00, 0x02,                         // NALU 2 size 2
        0x68, 0xCE,                         // Type=8 (PPS)
        0x00, 0x03,                         // NALU 3 size 3
        0x65, 0x88, 0x84,                   // NRI=11 Type=5 (IDR slice)
    ];

    [Fact]
    public void Stap_a_with_sps_pps_idr_is_a_key_frame_listing_all_types()
    {
        Assert.True(H264Payload.TryParse(StapAKeyFrame(), out var p));
        Assert.Equal(NalPacketization.Aggregation, p.Packetization);
        Assert.Equal(24, p.PacketType);
        Assert.Equal(3, p.NalUnitCount);
        Assert.True(p.Contains(H264Payload.Sps));
        Assert.True(p.Contains(H264Payload.Pps));
        Assert.True(p.Contains(H264Payload.IdrSlice));
        Assert.False(p.Contains(1));
        Assert.False(p.Contains(40));
        Assert.Equal(1u << 5 | 1u << 7 | 1u << 8, p.NalTypes);
        Assert.True(p.IsKeyFrame);
        Assert.Equal(-1, p.FragmentNalType);
    }

    [Fact]
    public void Stap_a_looks_through_every_unit()
    {
        // SEI (6) then IDR (5): the key unit is the second one.
        byte[] stap = [0x18, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x25, 0xB8];
        Assert.True(H264Payload.TryParse(stap, out var p));
        Assert.True(p.IsKeyFrame);
        Assert.Equal(2, p.NalUnitCount);
        // Only a PPS: not a key frame.
        Assert.True(H264Payload.TryParse([0x18, 0x00, 0x02, 0x68, 0xCE], out p));
        Assert.False(p.IsKeyFrame);
    }

    [Fact]
    public void Stap_b_skips_its_decoding_order_number()
    {
        // Type 25, DON 0x0001, one SPS unit.
        Assert.True(H264Payload.TryParse([0x79, 0x00, 0x01, 0x00, 0x02, 0x67, 0x42], out var p));
        Assert.Equal(NalPacketization.Aggregation, p.Packetization);
        Assert.True(p.IsKeyFrame);
    }

    [Fact]
    public void Fu_a_is_a_key_frame_only_at_the_start_fragment()
    {
        // FU indicator F=0 NRI=11 Type=28; FU header S=1 E=0 R=0 Type=5.
        Assert.True(H264Payload.TryParse([0x7C, 0x85, 0x88, 0x84], out var start));
        Assert.Equal(NalPacketization.Fragmentation, start.Packetization);
        Assert.True(start.IsFragmentStart);
        Assert.False(start.IsFragmentEnd);
        Assert.Equal(5, start.FragmentNalType);
        Assert.True(start.IsKeyFrame);
        Assert.Equal(0, start.NalUnitCount);

        Assert.True(H264Payload.TryParse([0x7C, 0x05, 0x11], out var middle));
        Assert.False(middle.IsFragmentStart);
        Assert.True(middle.Contains(5));
        Assert.False(middle.IsKeyFrame);

        Assert.True(H264Payload.TryParse([0x7C, 0x45, 0x22], out var end));
        Assert.True(end.IsFragmentEnd);
        Assert.False(end.IsKeyFrame);

        // Start of a non-IDR slice (type 1).
        Assert.True(H264Payload.TryParse([0x5C, 0x81, 0x9A], out var inter));
        Assert.False(inter.IsKeyFrame);
        Assert.Equal(1, inter.FragmentNalType);
    }

    [Fact]
    public void Single_nal_units()
    {
        Assert.True(H264Payload.TryParse([0x65, 0x88], out var idr));
        Assert.Equal(NalPacketization.SingleNal, idr.Packetization);
        Assert.True(idr.IsKeyFrame);
        Assert.True(H264Payload.TryParse([0x67, 0x42], out var sps));
        Assert.True(sps.IsKeyFrame);
        Assert.True(H264Payload.TryParse([0x41, 0x9A], out var slice));
        Assert.False(slice.IsKeyFrame);
        Assert.Equal(1, slice.NalUnitCount);
        // MTAP is recognised without being looked into.
        Assert.True(H264Payload.TryParse([0x1A, 0x00, 0x00], out var mtap));
        Assert.Equal(NalPacketization.MultiTimeAggregation, mtap.Packetization);
        Assert.False(mtap.IsKeyFrame);
    }

    [Fact]
    public void Rejects_undefined_types_and_broken_aggregations()
    {
        Assert.False(H264Payload.TryParse([], out _));
        Assert.False(H264Payload.TryParse([0x00], out _));
        Assert.False(H264Payload.TryParse([0x1E], out _));
        Assert.False(H264Payload.TryParse([0x1F], out _));
        Assert.False(H264Payload.TryParse([0x78], out _));                       // STAP-A with no unit
        Assert.False(H264Payload.TryParse([0x78, 0x00, 0x00], out _));           // zero-size unit
        Assert.False(H264Payload.TryParse([0x78, 0x00, 0x05, 0x67], out _));     // unit past the end
        Assert.False(H264Payload.TryParse([0x7C], out _));                       // FU-A without header
        Assert.False(H264Payload.TryParse([0x7D, 0x85, 0x00], out _));           // FU-B without DON
        var full = StapAKeyFrame();
        for (var n = 0; n < full.Length; n++)
        {
            // Every cut inside a unit fails; a cut between units leaves fewer units.
            var ok = H264Payload.TryParse(full.AsSpan(0, n), out var p);
            Assert.Equal(n is 7 or 11, ok);
            if (ok) Assert.False(p.IsKeyFrame && !p.Contains(7));
        }
    }
}

public class H265Tests
{
    [Fact]
    public void Single_nal_units_report_type_layer_and_temporal_id()
    {
        // F=0 Type=19 (IDR_W_RADL) LayerId=0 TID=001.
        Assert.True(H265Payload.TryParse([0x26, 0x01, 0xAF], out var idr));
        Assert.Equal(NalPacketization.SingleNal, idr.Packetization);
        Assert.Equal(19, idr.PacketType);
        Assert.True(idr.IsKeyFrame);
        Assert.Equal(0, idr.LayerId);
        Assert.Equal(0, idr.TemporalId);

        // Type=1 (TRAIL_R) LayerId=000001 TID=011 -> 0000 0010 | 0000 1011.
        Assert.True(H265Payload.TryParse([0x03, 0x0B, 0x00], out var trail));
        Assert.Equal(1, trail.PacketType);
        Assert.False(trail.IsKeyFrame);
        Assert.Equal(33, trail.LayerId);
        Assert.Equal(2, trail.TemporalId);

        // Every IRAP type 16-21 and parameter set 32-34 counts; 22 (reserved IRAP) and 35 (AUD) do not.
        for (var type = 0; type < 48; type++)
        {
            Assert.True(H265Payload.TryParse([(byte)(type << 1), 0x01, 0x00], out var p));
            Assert.Equal(type is >= 16 and <= 21 or >= 32 and <= 34, p.IsKeyFrame);
        }
    }

    [Fact]
    public void Aggregation_packet_with_vps_sps_pps()
    {
        byte[] ap =
        [
            0x60, 0x01,                 // PayloadHdr Type=48 (AP) LayerId=0 TID=1
            0x00, 0x03, 0x40, 0x01, 0x0C,   // VPS (32)
            0x00, 0x03, 0x42, 0x01, 0x01,   // SPS (33)
            0x00, 0x03, 0x44, 0x01, 0xC1,   // PPS (34)
        ];
        Assert.True(H265Payload.TryParse(ap, out var p));
        Assert.Equal(NalPacketization.Aggregation, p.Packetization);
        Assert.Equal(3, p.NalUnitCount);
        Assert.True(p.Contains(H265Payload.Vps));
        Assert.True(p.Contains(H265Payload.Sps));
        Assert.True(p.Contains(H265Payload.Pps));
        Assert.True(p.IsKeyFrame);

        // The same with DONL (2 bytes) before the first unit and DOND (1 byte) before each later one.
        byte[] withDon = [0x60, 0x01, 0x00, 0x07, 0x00, 0x03, 0x40, 0x01, 0x0C, 0x00, 0x00, 0x03, 0x26, 0x01, 0xAF];
        Assert.True(H265Payload.TryParse(withDon, out p, hasDonl: true));
        Assert.Equal(2, p.NalUnitCount);
        Assert.True(p.Contains(19));
        Assert.False(H265Payload.TryParse(withDon, out _));
    }

    [Fact]
    public void Fragmentation_unit_is_a_key_frame_at_start_only()
    {
        // PayloadHdr Type=49, FU header S=1 E=0 FuType=19.
        Assert.True(H265Payload.TryParse([0x62, 0x01, 0x93, 0xAF], out var start));
        Assert.Equal(NalPacketization.Fragmentation, start.Packetization);
        Assert.Equal(19, start.FragmentNalType);
        Assert.True(start.IsFragmentStart);
        Assert.True(start.IsKeyFrame);
        Assert.True(H265Payload.TryParse([0x62, 0x01, 0x53, 0xAF], out var end));
        Assert.True(end.IsFragmentEnd);
        Assert.False(end.IsKeyFrame);
        Assert.True(H265Payload.TryParse([0x62, 0x01, 0x81, 0xAF], out var trail));
        Assert.False(trail.IsKeyFrame);
    }

    [Fact]
    public void Rejects_bad_headers()
    {
        Assert.False(H265Payload.TryParse([0x26], out _));
        Assert.False(H265Payload.TryParse([0x26, 0x00], out _));        // TID=0 is forbidden
        Assert.False(H265Payload.TryParse([0x66, 0x01], out _));        // type 51, unspecified
        Assert.False(H265Payload.TryParse([0x60, 0x01], out _));        // AP without units
        Assert.False(H265Payload.TryParse([0x60, 0x01, 0x00, 0x05, 0x40, 0x01], out _));
        Assert.False(H265Payload.TryParse([0x62, 0x01], out _));        // FU without header
        Assert.True(H265Payload.TryParse([0x64, 0x01, 0x00], out var paci));
        Assert.Equal(NalPacketization.Other, paci.Packetization);
        Assert.False(paci.IsKeyFrame);
    }
}

public class OpusTests
{
    [Theory]
    // TOC, config, stereo, code, mode, bandwidth, frame µs
    [InlineData(0x78, 15, false, 0, OpusMode.Hybrid, OpusBandwidth.Fullband, 20_000)]
    [InlineData(0xFC, 31, true, 0, OpusMode.Celt, OpusBandwidth.Fullband, 20_000)]
    [InlineData(0x08, 1, false, 0, OpusMode.Silk, OpusBandwidth.Narrowband, 20_000)]
    [InlineData(0x18, 3, false, 0, OpusMode.Silk, OpusBandwidth.Narrowband, 60_000)]
    [InlineData(0x48, 9, false, 0, OpusMode.Silk, OpusBandwidth.Wideband, 20_000)]
    [InlineData(0x30, 6, false, 0, OpusMode.Silk, OpusBandwidth.Mediumband, 40_000)]
    [InlineData(0x60, 12, false, 0, OpusMode.Hybrid, OpusBandwidth.SuperWideband, 10_000)]
    [InlineData(0x80, 16, false, 0, OpusMode.Celt, OpusBandwidth.Narrowband, 2_500)]
    [InlineData(0xA4, 20, true, 0, OpusMode.Celt, OpusBandwidth.Wideband, 2_500)]
    [InlineData(0xC8, 25, false, 0, OpusMode.Celt, OpusBandwidth.SuperWideband, 5_000)]
    [InlineData(0xF1, 30, false, 1, OpusMode.Celt, OpusBandwidth.Fullband, 10_000)]
    public void Reads_the_toc_byte(int toc, int config, bool stereo, int code, OpusMode mode, OpusBandwidth bandwidth,
        int frameMicroseconds)
    {
        byte[] payload = code == 1 ? [(byte)toc, 1, 2] : [(byte)toc, 1, 2, 3];
        Assert.True(OpusPayload.TryParse(payload, out var p));
        Assert.Equal(config, p.Config);
        Assert.Equal(stereo, p.IsStereo);
        Assert.Equal(code, p.FrameCountCode);
        Assert.Equal(mode, p.Mode);
        Assert.Equal(bandwidth, p.Bandwidth);
        Assert.Equal(frameMicroseconds, p.FrameDurationMicroseconds);
        Assert.Equal(frameMicroseconds * 48 / 1000, p.SamplesPerFrame);
        Assert.Equal(code == 1 ? 2 : 1, p.FrameCount);
    }

    [Fact]
    public void Frame_count_codes()
    {
        // Code 2: first frame size in one byte (3), then the two frames.
        Assert.True(OpusPayload.TryParse([0xFA, 0x03, 1, 2, 3, 4], out var p));
        Assert.Equal(2, p.FrameCount);
        Assert.Equal(40_000, p.DurationMicroseconds);
        // Code 2 with a two-byte size: 252 + 4*1 = 256 bytes, more than there is.
        Assert.False(OpusPayload.TryParse([0xFA, 0xFC, 0x01, 1, 2], out _));
        Assert.False(OpusPayload.TryParse([0xFA], out _));
        // Code 3 (config 16, 2.5 ms): v=1 p=0 M=5.
        Assert.True(OpusPayload.TryParse([0x83, 0x85, 1, 2, 3, 4, 5], out p));
        Assert.Equal(5, p.FrameCount);
        Assert.Equal(12_500, p.DurationMicroseconds);
        Assert.Equal(600, p.Samples);
        // Code 3 without count byte, with M=0, or 3 x 60 ms > 120 ms.
        Assert.False(OpusPayload.TryParse([0x83], out _));
        Assert.False(OpusPayload.TryParse([0x83, 0x00], out _));
        Assert.False(OpusPayload.TryParse([0x1B, 0x03, 0x00], out _));
        Assert.True(OpusPayload.TryParse([0x1B, 0x02, 0x00], out p));
        Assert.Equal(120_000, p.DurationMicroseconds);
        // Code 1 needs an even data length.
        Assert.False(OpusPayload.TryParse([0x79, 1, 2, 3], out _));
        Assert.False(OpusPayload.TryParse([], out _));
    }

    [Fact]
    public void Dtx_is_a_payload_of_at_most_two_bytes()
    {
        Assert.True(OpusPayload.IsDtxPayload([0x78]));
        Assert.True(OpusPayload.IsDtxPayload([0x78, 0x00]));
        Assert.False(OpusPayload.IsDtxPayload([0x78, 0x00, 0x01]));
        Assert.True(OpusPayload.TryParse([0xF8], out var p));
        Assert.True(p.IsDtx);
        Assert.Equal(1, p.FrameCount);
        Assert.Equal(0, OpusPayload.GetFrameDurationMicroseconds(32));
    }
}
