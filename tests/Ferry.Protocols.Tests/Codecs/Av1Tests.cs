using Ferry.Protocols.Codecs;

namespace Ferry.Protocols.Tests.Codecs;

public class Av1Tests
{
    // First packet of a key frame: a sequence header and the frame, W=2.
    internal static byte[] KeyFramePacket() =>
    [
        0x28,                   // Z=0 Y=0 W=10 N=1 ---
        0x03,                   // element 1 length (leb128) 3
        0x08, 0x00, 0x00,       // OBU header F=0 type=0001 (sequence header) X=0 S=0 R=0, data
        0x34,                   // element 2 (last, no length): F=0 type=0110 (frame) X=1 S=0 R=0
        0x48,                   // extension: temporal_id=010 spatial_id=01 ---
        0x10, 0x20,             // frame data
    ];

    [Fact]
    public void Reads_the_aggregation_header_and_obus()
    {
        Assert.True(Av1Payload.TryParse(KeyFramePacket(), out var p));
        Assert.False(p.StartsWithContinuation);
        Assert.False(p.EndsWithFragment);
        Assert.Equal(2, p.W);
        Assert.True(p.IsNewCodedVideoSequence);
        Assert.True(p.IsKeyFrame);
        Assert.Equal(2, p.ElementCount);
        Assert.True(p.Contains(Av1Payload.SequenceHeaderObu));
        Assert.True(p.Contains(Av1Payload.FrameObu));
        Assert.False(p.Contains(Av1Payload.FrameHeaderObu));
        Assert.Equal(2, p.TemporalId);
        Assert.Equal(1, p.SpatialId);
    }

    [Fact]
    public void Continuation_and_length_prefixed_elements()
    {
        byte[] packet =
        [
            0xC0,               // Z=1 Y=1 W=00 N=0
            0x02, 0xFF, 0xFF,   // element 1: continuation of an OBU, 2 bytes (no header to read)
            0x81, 0x01,         // element 2 length: leb128 0x81 0x01 = 1 + 1*128 = 129
        ];
        var full = new byte[packet.Length + 129];
        packet.CopyTo(full, 0);
        full[packet.Length] = 0x30;     // OBU header F=0 type=0110 (frame) X=0
        Assert.True(Av1Payload.TryParse(full, out var p));
        Assert.True(p.StartsWithContinuation);
        Assert.True(p.EndsWithFragment);
        Assert.Equal(0, p.W);
        Assert.False(p.IsKeyFrame);
        Assert.Equal(2, p.ElementCount);
        Assert.Equal(1 << 6, p.ObuTypes);
        Assert.Equal(-1, p.TemporalId);
        Assert.False(Av1Payload.TryParse(full.AsSpan(0, full.Length - 1), out _));
    }

    [Fact]
    public void Rejects_malformed_payloads()
    {
        Assert.False(Av1Payload.TryParse([], out _));
        Assert.False(Av1Payload.TryParse([0x10], out _));                    // header alone
        Assert.False(Av1Payload.TryParse([0x00, 0x05, 0x30], out _));        // length past the end
        Assert.False(Av1Payload.TryParse([0x00, 0x00, 0x30], out _));        // empty element
        Assert.False(Av1Payload.TryParse([0x30, 0x01, 0x30], out _));        // W=3 but one element
        Assert.False(Av1Payload.TryParse([0x00, 0x80, 0x80], out _));        // unterminated leb128
        Assert.True(Av1Payload.TryParse([0x10, 0x30], out var one));          // W=1: one element, no length
        Assert.Equal(1, one.ElementCount);
        var full = KeyFramePacket();
        for (var n = 0; n < 6; n++) Assert.False(Av1Payload.TryParse(full.AsSpan(0, n), out _));
        // Cut right after the frame OBU's header byte: still two elements, the extension byte is missing.
        Assert.True(Av1Payload.TryParse(full.AsSpan(0, 6), out var cut));
        Assert.Equal(-1, cut.TemporalId);
    }

    [Fact]
    public void Reads_leb128()
    {
        Assert.True(Av1Payload.TryReadLeb128([0x00], out var v, out var n));
        Assert.Equal((0ul, 1), (v, n));
        Assert.True(Av1Payload.TryReadLeb128([0xE5, 0x8E, 0x26], out v, out n));
        Assert.Equal((624485ul, 3), (v, n));
        Assert.False(Av1Payload.TryReadLeb128([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], out _, out _));
        Assert.False(Av1Payload.TryReadLeb128([0xFF, 0xFF, 0xFF, 0xFF, 0x7F], out _, out _)); // above 2^32 - 1
    }
}

public class Av1DependencyDescriptorTests
{
    // Packs bit strings (spaces ignored) into bytes, zero padded at the end as the extension is.
    internal static byte[] Bits(params string[] fields)
    {
        var bits = string.Concat(fields).Replace(" ", "", StringComparison.Ordinal);
        var bytes = new byte[(bits.Length + 7) / 8];
        for (var i = 0; i < bits.Length; i++)
            if (bits[i] == '1') bytes[i / 8] |= (byte)(0x80 >> (i % 8));
        return bytes;
    }

    // A key frame of an L1T2 stream carrying its template structure:
    // templates 0 (S0T0, "SS", no fdiff, chain 0), 1 (S0T0, "SS", fdiff 2, chain 2), 2 (S0T1, "-D", fdiff 1, chain 1),
    // decode targets 0 (T0) and 1 (T0+T1), one chain protecting both, render size 640x360.
    internal static byte[] KeyFrameWithStructure() => Bits(
        "1", "1", "001010",                 // start_of_frame, end_of_frame, frame_dependency_template_id = 10
        "0000000000000001",                 // frame_number = 1
        "1", "0", "0", "0", "0",            // structure present, no active targets, no custom dtis/fdiffs/chains
        "001010",                           // template_id_offset = 10
        "00001",                            // dt_cnt_minus_one = 1
        "00", "01", "11",                   // next_layer_idc: same layer, next temporal, no more
        "10 10", "10 10", "00 01",          // template_dti per template, per decode target: S S / S S / - D
        "0", "1 0001 0", "1 0000 0",        // template_fdiffs: none / 2 / 1 (follows flag, fdiff_minus_one)
        "10",                               // chain_cnt = ns(3) = 1 (v=1 then extra bit 0)
                                            // decode_target_protected_by = ns(1): no bits
        "0000", "0010", "0001",             // template_chain_fdiff
        "1",                                // resolutions_present_flag
        "0000001001111111",                 // render_width_minus_1 = 639
        "0000000101100111");                // render_height_minus_1 = 359

    [Fact]
    public void Reads_mandatory_fields_without_state()
    {
        // S=1 E=0 template id 000101, frame number 0x1234.
        Assert.True(Av1DependencyDescriptor.TryParseMandatory([0x85, 0x12, 0x34], out var d));
        Assert.True(d.IsStartOfFrame);
        Assert.False(d.IsEndOfFrame);
        Assert.Equal(5, d.TemplateId);
        Assert.Equal(0x1234, d.FrameNumber);
        Assert.False(d.HasExtendedFields);
        Assert.False(d.IsResolved);
        Assert.Equal(-1, d.SpatialId);
        Assert.False(Av1DependencyDescriptor.TryParseMandatory([0x85, 0x12], out _));

        Assert.True(Av1DependencyDescriptor.TryParseMandatory(KeyFrameWithStructure(), out d));
        Assert.True(d.HasExtendedFields);
        Assert.True(d.HasTemplateStructure);
        Assert.False(d.HasActiveDecodeTargets);
        Assert.False(d.HasCustomDtis);
    }

    [Fact]
    public void Reads_a_template_structure_and_resolves_the_key_frame()
    {
        var parser = new Av1DependencyDescriptorParser();
        Assert.True(parser.TryParse(KeyFrameWithStructure(), out var d));
        Assert.True(parser.HasStructure);
        var s = parser.Structure;
        Assert.Equal(10, s.TemplateIdOffset);
        Assert.Equal(2, s.DecodeTargetCount);
        Assert.Equal(3, s.TemplateCount);
        Assert.Equal(1, s.ChainCount);
        Assert.Equal(0, s.MaxSpatialId);
        Assert.Equal(1, s.MaxTemporalId);
        Assert.Equal([0, 0, 1], Enumerable.Range(0, 3).Select(s.GetTemplateTemporalId));
        Assert.Equal(DecodeTargetIndication.Switch, s.GetTemplateIndication(0, 1));
        Assert.Equal(DecodeTargetIndication.NotPresent, s.GetTemplateIndication(2, 0));
        Assert.Equal(DecodeTargetIndication.Discardable, s.GetTemplateIndication(2, 1));
        Assert.Equal(new byte[] { 2 }, s.GetTemplateFrameDiffs(1).ToArray());
        Assert.Equal(2, s.GetTemplateChainDiff(1, 0));
        Assert.Equal(0, s.GetDecodeTargetChain(1));
        Assert.Equal(0, s.GetDecodeTargetTemporalId(0));
        Assert.Equal(1, s.GetDecodeTargetTemporalId(1));
        Assert.True(s.TryGetResolution(0, out var w, out var h));
        Assert.Equal((640, 360), (w, h));

        Assert.True(d.IsResolved);
        Assert.True(d.IsStartOfFrame);
        Assert.True(d.IsEndOfFrame);
        Assert.Equal(1, d.FrameNumber);
        Assert.Equal(0, d.SpatialId);
        Assert.Equal(0, d.TemporalId);
        Assert.Equal(2, d.DecodeTargetCount);
        Assert.Equal(DecodeTargetIndication.Switch, d.GetDecodeTargetIndication(0));
        Assert.Equal(DecodeTargetIndication.Switch, d.GetDecodeTargetIndication(1));
        Assert.Equal(0, d.FrameDiffCount);
        Assert.Equal(1, d.ChainCount);
        Assert.Equal(0, d.GetChainDiff(0));
        Assert.Equal(0b11u, d.ActiveDecodeTargets);
    }

    [Fact]
    public void Later_packets_resolve_against_the_stored_structure()
    {
        var parser = new Av1DependencyDescriptorParser();
        Assert.True(parser.TryParse(KeyFrameWithStructure(), out _));

        // Mandatory fields only: S=1 E=1 template id 12 (index 2), frame 2.
        Assert.True(parser.TryParse([0xCC, 0x00, 0x02], out var d));
        Assert.True(d.IsResolved);
        Assert.Equal(1, d.TemporalId);
        Assert.Equal(DecodeTargetIndication.NotPresent, d.GetDecodeTargetIndication(0));
        Assert.Equal(DecodeTargetIndication.Discardable, d.GetDecodeTargetIndication(1));
        Assert.Equal(1, d.FrameDiffCount);
        Assert.Equal(1, d.GetFrameDiff(0));
        Assert.Equal(1, d.GetChainDiff(0));

        // Custom everything on template 11 (index 1), with active decode targets.
        var custom = Bits(
            "0", "1", "001011",             // S=0 E=1 template id 11
            "0000000000000011",             // frame 3
            "0", "1", "1", "1", "1",        // no structure; active targets, custom dtis, fdiffs, chains
            "01",                           // active_decode_targets_bitmask (DtCnt = 2 bits): target 0 only
            "10", "11",                     // frame_dti: S, R
            "01", "0000",                   // next_fdiff_size 1, fdiff_minus_one 0 -> 1
            "10", "00010011",               // next_fdiff_size 2, fdiff_minus_one 19 -> 20
            "00",                           // end of fdiffs
            "00000101");                    // frame_chain_fdiff = 5
        Assert.True(parser.TryParse(custom, out d));
        Assert.True(d.HasActiveDecodeTargets);
        Assert.True(d.HasCustomDtis && d.HasCustomFrameDiffs && d.HasCustomChains);
        Assert.False(d.IsStartOfFrame);
        Assert.Equal(0, d.TemporalId);
        Assert.Equal(0b01u, d.ActiveDecodeTargets);
        Assert.Equal(0b01u, parser.ActiveDecodeTargets);
        Assert.Equal(DecodeTargetIndication.Switch, d.GetDecodeTargetIndication(0));
        Assert.Equal(DecodeTargetIndication.Required, d.GetDecodeTargetIndication(1));
        Assert.Equal(2, d.FrameDiffCount);
        Assert.Equal(1, d.GetFrameDiff(0));
        Assert.Equal(20, d.GetFrameDiff(1));
        Assert.Equal(5, d.GetChainDiff(0));

        // The active set persists until changed.
        Assert.True(parser.TryParse([0xCC, 0x00, 0x04], out d));
        Assert.Equal(0b01u, d.ActiveDecodeTargets);
    }

    [Fact]
    public void Without_a_structure_only_mandatory_fields_are_read()
    {
        var parser = new Av1DependencyDescriptorParser();
        Assert.True(parser.TryParse([0xCC, 0x00, 0x02], out var d));
        Assert.False(d.IsResolved);
        Assert.Equal(12, d.TemplateId);
        Assert.Equal(2, d.FrameNumber);
        Assert.False(parser.HasStructure);
    }

    [Fact]
    public void Malformed_descriptors_change_nothing()
    {
        var parser = new Av1DependencyDescriptorParser();
        Assert.True(parser.TryParse(KeyFrameWithStructure(), out _));

        // Template id 13 is index 3, past the 3 templates.
        Assert.False(parser.TryParse([0xCD, 0x00, 0x02], out _));

        // A structure cut short: the stored one stays.
        var cut = KeyFrameWithStructure()[..8];
        Assert.False(parser.TryParse(cut, out _));
        Assert.True(parser.HasStructure);
        Assert.Equal(3, parser.Structure.TemplateCount);
        Assert.Equal(0b11u, parser.ActiveDecodeTargets);

        // A new structure whose own frame has an out-of-range template id is not adopted either.
        var bad = KeyFrameWithStructure();
        bad[0] = 0xC0 | 13;
        Assert.False(parser.TryParse(bad, out _));
        Assert.True(parser.TryParse([0xCC, 0x00, 0x02], out var d));
        Assert.Equal(1, d.TemporalId);

        // Every truncation of the key frame descriptor fails (past 3 bytes) without throwing.
        var full = KeyFrameWithStructure();
        for (var n = 4; n < full.Length; n++) Assert.False(parser.TryParse(full.AsSpan(0, n), out _));

        parser.Reset();
        Assert.False(parser.HasStructure);
    }

    [Fact]
    public void A_new_structure_replaces_the_old_one()
    {
        var parser = new Av1DependencyDescriptorParser();
        Assert.True(parser.TryParse(KeyFrameWithStructure(), out _));
        // One template, one decode target, no chains, no resolutions, template id offset 0.
        var single = Bits("11", "000000", "0000000000001010", "10000", "000000", "00000", "11", "10", "0", "0", "0");
        Assert.True(parser.TryParse(single, out var d));
        Assert.Equal(1, parser.Structure.TemplateCount);
        Assert.Equal(0, parser.Structure.ChainCount);
        Assert.False(parser.Structure.HasResolutions);
        Assert.Equal(1u, parser.ActiveDecodeTargets);
        Assert.Equal(DecodeTargetIndication.Switch, d.GetDecodeTargetIndication(0));
        Assert.Equal(0, d.ChainCount);
        // Template id 12 no longer resolves.
        Assert.False(parser.TryParse([0xCC, 0x00, 0x0B], out _));
    }
}
