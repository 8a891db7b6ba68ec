using System.Runtime.CompilerServices;

namespace Ferry.Protocols.Codecs;

/// <summary>How a frame relates to a decode target (AV1 RTP spec, Appendix A, Table A.1).</summary>
public enum DecodeTargetIndication : byte
{
    /// <summary>"-": the frame is not in the decode target.</summary>
    NotPresent = 0,
    /// <summary>"D": in the decode target, but no later frame of it depends on this one.</summary>
    Discardable = 1,
    /// <summary>"S": in the decode target, and a point where a receiver may switch to it.</summary>
    Switch = 2,
    /// <summary>"R": in the decode target and needed by later frames of it.</summary>
    Required = 3,
}

/// <summary>
/// One parsed Dependency Descriptor RTP header extension (AV1 RTP spec, Appendix A): the mandatory fields,
/// the extended flags, and when the template structure is known, the frame's layers, decode target
/// indications, frame diffs and chain diffs.
/// <code>
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3
/// |S|E| template id |         frame_number          |   mandatory, 3 bytes
/// |T|A|D|F|C| ...                                        extended (length > 3): T structure present,
///                                                        A active decode targets, D/F/C custom DTIs/fdiffs/chains
/// </code>
/// Read with <see cref="TryParseMandatory"/> (no state) or with an <see cref="Av1DependencyDescriptorParser"/>,
/// which keeps the stream's latest template structure.
/// </summary>
public readonly struct Av1DependencyDescriptor
{
    /// <summary>Most frame diffs kept for one frame; AV1 references at most 7 frames, so more is treated as malformed.</summary>
    public const int MaxFrameDiffs = 16;
    /// <summary>Most decode targets (DtCnt is 5 bits plus one).</summary>
    public const int MaxDecodeTargets = 32;

    private readonly byte _flags;   // bit 0 S, 1 E, 2 extended, 3 T, 4 A, 5 D, 6 F, 7 C
    private readonly FrameDiffBuffer _frameDiffs;
    private readonly ChainDiffBuffer _chainDiffs;

    internal Av1DependencyDescriptor(byte flags, int templateId, int frameNumber, bool resolved, int spatialId,
        int temporalId, ulong dtis, int decodeTargetCount, uint activeDecodeTargets, in FrameDiffBuffer frameDiffs,
        int frameDiffCount, in ChainDiffBuffer chainDiffs, int chainCount)
    {
        _flags = flags;
        TemplateId = templateId;
        FrameNumber = frameNumber;
        IsResolved = resolved;
        SpatialId = spatialId;
        TemporalId = temporalId;
        DecodeTargetIndications = dtis;
        DecodeTargetCount = decodeTargetCount;
        ActiveDecodeTargets = activeDecodeTargets;
        _frameDiffs = frameDiffs;
        FrameDiffCount = frameDiffCount;
        _chainDiffs = chainDiffs;
        ChainCount = chainCount;
    }

    /// <summary>start_of_frame: the packet is the first of its frame.</summary>
    public bool IsStartOfFrame => (_flags & 0x01) != 0;

    /// <summary>end_of_frame: the packet is the last of its frame.</summary>
    public bool IsEndOfFrame => (_flags & 0x02) != 0;

    /// <summary>frame_dependency_template_id (6 bits).</summary>
    public int TemplateId { get; }

    /// <summary>frame_number (16 bits).</summary>
    public int FrameNumber { get; }

    /// <summary>The extension is longer than 3 bytes and carries the extended flags.</summary>
    public bool HasExtendedFields => (_flags & 0x04) != 0;

    /// <summary>template_dependency_structure_present_flag: the packet carries a new template structure.</summary>
    public bool HasTemplateStructure => (_flags & 0x08) != 0;

    /// <summary>active_decode_targets_present_flag.</summary>
    public bool HasActiveDecodeTargets => (_flags & 0x10) != 0;

    /// <summary>custom_dtis_flag.</summary>
    public bool HasCustomDtis => (_flags & 0x20) != 0;

    /// <summary>custom_fdiffs_flag.</summary>
    public bool HasCustomFrameDiffs => (_flags & 0x40) != 0;

    /// <summary>custom_chains_flag.</summary>
    public bool HasCustomChains => (_flags & 0x80) != 0;

    /// <summary>
    /// The frame's dependency fields below were resolved against a template structure. False from
    /// <see cref="TryParseMandatory"/>, and from a parser that has not yet seen a structure.
    /// </summary>
    public bool IsResolved { get; }

    /// <summary>Spatial id of the frame's template, or -1 when not resolved.</summary>
    public int SpatialId { get; }

    /// <summary>Temporal id of the frame's template, or -1 when not resolved.</summary>
    public int TemporalId { get; }

    /// <summary>Decode target indications, 2 bits per decode target (target n in bits 2n and 2n+1).</summary>
    public ulong DecodeTargetIndications { get; }

    /// <summary>Number of decode targets of the structure (0 when not resolved).</summary>
    public int DecodeTargetCount { get; }

    /// <summary>Indication of the frame for one decode target.</summary>
    public DecodeTargetIndication GetDecodeTargetIndication(int decodeTarget) =>
        (uint)decodeTarget < (uint)DecodeTargetCount
            ? (DecodeTargetIndication)((DecodeTargetIndications >> (2 * decodeTarget)) & 3)
            : DecodeTargetIndication.NotPresent;

    /// <summary>Active decode targets (bit n for target n), as last set by a structure or the A flag.</summary>
    public uint ActiveDecodeTargets { get; }

    /// <summary>Number of frame diffs (references).</summary>
    public int FrameDiffCount { get; }

    /// <summary>The <paramref name="index"/>-th frame diff: the referenced frame is frame_number minus it. 0 out of range.</summary>
    public int GetFrameDiff(int index) => (uint)index < (uint)FrameDiffCount ? _frameDiffs[index] : 0;

    /// <summary>Number of chains.</summary>
    public int ChainCount { get; }

    /// <summary>The frame's diff for a chain (0: the frame starts the chain anew). 0 out of range.</summary>
    public int GetChainDiff(int chain) => (uint)chain < (uint)ChainCount ? _chainDiffs[chain] : 0;

    /// <summary>
    /// Reads the mandatory fields and the extended flags without a template structure; the dependency fields
    /// are left unresolved. False when shorter than 3 bytes.
    /// </summary>
    public static bool TryParseMandatory(ReadOnlySpan<byte> data, out Av1DependencyDescriptor descriptor)
    {
        descriptor = default;
        if (data.Length < 3) return false;
        var flags = (byte)(data[0] >> 7 | (data[0] >> 5 & 0x02));
        if (data.Length > 3) flags |= (byte)(0x04 | (data[3] >> 7 & 1) << 3 | (data[3] >> 6 & 1) << 4 |
            (data[3] >> 5 & 1) << 5 | (data[3] >> 4 & 1) << 6 | (data[3] >> 3 & 1) << 7);
        descriptor = new Av1DependencyDescriptor(flags, data[0] & 0x3F, data[1] << 8 | data[2], false, -1, -1, 0, 0, 0,
            default, 0, default, 0);
        return true;
    }

    [InlineArray(MaxFrameDiffs)]
    internal struct FrameDiffBuffer
    {
        private ushort _element;
    }

    [InlineArray(MaxDecodeTargets)]
    internal struct ChainDiffBuffer
    {
        private byte _element;
    }
}

/// <summary>
/// The template dependency structure of a Dependency Descriptor stream (AV1 RTP spec, A.8.1): templates
/// with their layers, decode target indications, frame diffs and chain diffs; decode target layers and
/// protecting chains; optional render resolutions. Storage is allocated once, so reading a new structure
/// allocates nothing.
/// </summary>
public sealed class Av1DependencyStructure
{
    /// <summary>Most templates (the template id is 6 bits).</summary>
    public const int MaxTemplates = 64;
    /// <summary>Most spatial layers (AV1's spatial_id is 2 bits).</summary>
    public const int MaxSpatialLayers = 4;
    /// <summary>Most temporal layers (AV1's temporal_id is 3 bits).</summary>
    public const int MaxTemporalLayers = 8;

    private const int MaxDecodeTargets = Av1DependencyDescriptor.MaxDecodeTargets;
    private const int MaxFrameDiffs = Av1DependencyDescriptor.MaxFrameDiffs;

    private readonly byte[] _spatial = new byte[MaxTemplates];
    private readonly byte[] _temporal = new byte[MaxTemplates];
    private readonly ulong[] _dtis = new ulong[MaxTemplates];
    private readonly byte[] _fdiffCounts = new byte[MaxTemplates];
    private readonly byte[] _fdiffs = new byte[MaxTemplates * MaxFrameDiffs];
    private readonly byte[] _chainFdiffs = new byte[MaxTemplates * MaxDecodeTargets];
    private readonly byte[] _protectedBy = new byte[MaxDecodeTargets];
    private readonly byte[] _dtSpatial = new byte[MaxDecodeTargets];
    private readonly byte[] _dtTemporal = new byte[MaxDecodeTargets];
    private readonly ushort[] _widths = new ushort[MaxSpatialLayers];
    private readonly ushort[] _heights = new ushort[MaxSpatialLayers];

    /// <summary>template_id_offset: template id of the first template.</summary>
    public int TemplateIdOffset { get; private set; }

    /// <summary>Number of decode targets (DtCnt).</summary>
    public int DecodeTargetCount { get; private set; }

    /// <summary>Number of templates.</summary>
    public int TemplateCount { get; private set; }

    /// <summary>Number of chains (0: no chains).</summary>
    public int ChainCount { get; private set; }

    /// <summary>Highest spatial id of the templates.</summary>
    public int MaxSpatialId { get; private set; }

    /// <summary>Highest temporal id of the templates.</summary>
    public int MaxTemporalId { get; private set; }

    /// <summary>resolutions_present_flag.</summary>
    public bool HasResolutions { get; private set; }

    // Getters answer 0 (or empty) for indices out of range rather than throw.
    private bool IsTemplate(int template) => (uint)template < (uint)TemplateCount;

    private bool IsDecodeTarget(int decodeTarget) => (uint)decodeTarget < (uint)DecodeTargetCount;

    /// <summary>Spatial id of a template.</summary>
    public int GetTemplateSpatialId(int template) => IsTemplate(template) ? _spatial[template] : 0;

    /// <summary>Temporal id of a template.</summary>
    public int GetTemplateTemporalId(int template) => IsTemplate(template) ? _temporal[template] : 0;

    /// <summary>A template's indication for a decode target.</summary>
    public DecodeTargetIndication GetTemplateIndication(int template, int decodeTarget) =>
        IsTemplate(template) && IsDecodeTarget(decodeTarget)
            ? (DecodeTargetIndication)((_dtis[template] >> (2 * decodeTarget)) & 3)
            : DecodeTargetIndication.NotPresent;

    /// <summary>A template's frame diffs.</summary>
    public ReadOnlySpan<byte> GetTemplateFrameDiffs(int template) =>
        IsTemplate(template) ? _fdiffs.AsSpan(template * MaxFrameDiffs, _fdiffCounts[template]) : default;

    /// <summary>A template's diff for a chain.</summary>
    public int GetTemplateChainDiff(int template, int chain) =>
        IsTemplate(template) && (uint)chain < (uint)ChainCount ? _chainFdiffs[template * MaxDecodeTargets + chain] : 0;

    /// <summary>The chain that protects a decode target (meaningful when <see cref="ChainCount"/> is above 0).</summary>
    public int GetDecodeTargetChain(int decodeTarget) => IsDecodeTarget(decodeTarget) ? _protectedBy[decodeTarget] : 0;

    /// <summary>Highest spatial id a decode target contains.</summary>
    public int GetDecodeTargetSpatialId(int decodeTarget) => IsDecodeTarget(decodeTarget) ? _dtSpatial[decodeTarget] : 0;

    /// <summary>Highest temporal id a decode target contains.</summary>
    public int GetDecodeTargetTemporalId(int decodeTarget) => IsDecodeTarget(decodeTarget) ? _dtTemporal[decodeTarget] : 0;

    /// <summary>Render resolution of a spatial layer. False without resolutions or out of range.</summary>
    public bool TryGetResolution(int spatialId, out int width, out int height)
    {
        width = height = 0;
        if (!HasResolutions || (uint)spatialId > (uint)MaxSpatialId) return false;
        width = _widths[spatialId] + 1;
        height = _heights[spatialId] + 1;
        return true;
    }

    /// <summary>Copies another structure into this one.</summary>
    public void CopyFrom(Av1DependencyStructure other)
    {
        ArgumentNullException.ThrowIfNull(other);
        other._spatial.CopyTo(_spatial, 0);
        other._temporal.CopyTo(_temporal, 0);
        other._dtis.CopyTo(_dtis, 0);
        other._fdiffCounts.CopyTo(_fdiffCounts, 0);
        other._fdiffs.CopyTo(_fdiffs, 0);
        other._chainFdiffs.CopyTo(_chainFdiffs, 0);
        other._protectedBy.CopyTo(_protectedBy, 0);
        other._dtSpatial.CopyTo(_dtSpatial, 0);
        other._dtTemporal.CopyTo(_dtTemporal, 0);
        other._widths.CopyTo(_widths, 0);
        other._heights.CopyTo(_heights, 0);
        TemplateIdOffset = other.TemplateIdOffset;
        DecodeTargetCount = other.DecodeTargetCount;
        TemplateCount = other.TemplateCount;
        ChainCount = other.ChainCount;
        MaxSpatialId = other.MaxSpatialId;
        MaxTemporalId = other.MaxTemporalId;
        HasResolutions = other.HasResolutions;
    }

    // template_dependency_structure(); false when the bits run out or a limit above is exceeded,
    // in which case this instance holds garbage and the caller must not use it.
    internal bool TryRead(ref BitReader r)
    {
        TemplateIdOffset = (int)r.Read(6);
        DecodeTargetCount = (int)r.Read(5) + 1;

        // template_layers(): next_layer_idc 0 same layer, 1 next temporal, 2 next spatial, 3 end.
        int spatial = 0, temporal = 0, count = 0, maxTemporal = 0;
        while (true)
        {
            if (count == MaxTemplates) return false;
            _spatial[count] = (byte)spatial;
            _temporal[count] = (byte)temporal;
            count++;
            var idc = r.Read(2);
            if (r.Overrun) return false;
            if (idc == 3) break;
            if (idc == 1)
            {
                temporal++;
                if (temporal >= MaxTemporalLayers) return false;
                if (temporal > maxTemporal) maxTemporal = temporal;
            }
            else if (idc == 2)
            {
                temporal = 0;
                spatial++;
                if (spatial >= MaxSpatialLayers) return false;
            }
        }
        TemplateCount = count;
        MaxSpatialId = spatial;
        MaxTemporalId = maxTemporal;

        // template_dtis()
        for (var t = 0; t < count; t++)
        {
            ulong dtis = 0;
            for (var dt = 0; dt < DecodeTargetCount; dt++) dtis |= (ulong)r.Read(2) << (2 * dt);
            _dtis[t] = dtis;
        }

        // template_fdiffs(): each preceded by a follows flag.
        for (var t = 0; t < count; t++)
        {
            var n = 0;
            while (r.ReadBit())
            {
                if (n == MaxFrameDiffs) return false;
                _fdiffs[t * MaxFrameDiffs + n] = (byte)(r.Read(4) + 1);
                n++;
            }
            _fdiffCounts[t] = (byte)n;
        }

        // template_chains()
        ChainCount = (int)r.ReadNonSymmetric((uint)DecodeTargetCount + 1);
        if (ChainCount > 0)
        {
            for (var dt = 0; dt < DecodeTargetCount; dt++) _protectedBy[dt] = (byte)r.ReadNonSymmetric((uint)ChainCount);
            for (var t = 0; t < count; t++)
                for (var c = 0; c < ChainCount; c++)
                    _chainFdiffs[t * MaxDecodeTargets + c] = (byte)r.Read(4);
        }

        // decode_target_layers(): the highest layers among the templates that are in each target.
        for (var dt = 0; dt < DecodeTargetCount; dt++)
        {
            int s = 0, tid = 0;
            for (var t = 0; t < count; t++)
            {
                if (((_dtis[t] >> (2 * dt)) & 3) == 0) continue;
                if (_spatial[t] > s) s = _spatial[t];
                if (_temporal[t] > tid) tid = _temporal[t];
            }
            _dtSpatial[dt] = (byte)s;
            _dtTemporal[dt] = (byte)tid;
        }

        HasResolutions = r.ReadBit();
        if (HasResolutions)
        {
            for (var s = 0; s <= MaxSpatialId; s++)
            {
                _widths[s] = (ushort)r.Read(16);
                _heights[s] = (ushort)r.Read(16);
            }
        }
        return !r.Overrun;
    }
}

/// <summary>
/// Reads the Dependency Descriptor extensions of one stream, keeping the latest template structure (which
/// arrives with key frames and applies to the packets after it) and the active decode targets. A
/// descriptor that fails to parse changes nothing. One instance per incoming stream; not thread-safe.
/// </summary>
public sealed class Av1DependencyDescriptorParser
{
    private Av1DependencyStructure _active = new();
    private Av1DependencyStructure _scratch = new();

    /// <summary>A structure has been received.</summary>
    public bool HasStructure { get; private set; }

    /// <summary>The latest structure; meaningful when <see cref="HasStructure"/>.</summary>
    public Av1DependencyStructure Structure => _active;

    /// <summary>Active decode targets (bit n for target n).</summary>
    public uint ActiveDecodeTargets { get; private set; }

    /// <summary>Forgets the structure (for example when the stream's source changes).</summary>
    public void Reset()
    {
        HasStructure = false;
        ActiveDecodeTargets = 0;
    }

    /// <summary>
    /// Parses one extension value. False when it is malformed (too short, bits past the end, a template id
    /// outside the structure, limits exceeded). True with <see cref="Av1DependencyDescriptor.IsResolved"/>
    /// false when no structure is known yet: the mandatory fields are still valid.
    /// </summary>
    public bool TryParse(ReadOnlySpan<byte> data, out Av1DependencyDescriptor descriptor)
    {
        if (!Av1DependencyDescriptor.TryParseMandatory(data, out var mandatory))
        {
            descriptor = default;
            return false;
        }
        descriptor = mandatory;

        var r = new BitReader(data);
        r.Read(24);
        var structurePresent = false;
        var activePresent = false;
        bool customDtis = false, customFdiffs = false, customChains = false;
        if (data.Length > 3)
        {
            structurePresent = r.ReadBit();
            activePresent = r.ReadBit();
            customDtis = r.ReadBit();
            customFdiffs = r.ReadBit();
            customChains = r.ReadBit();
        }

        Av1DependencyStructure structure;
        uint active = ActiveDecodeTargets;
        if (structurePresent)
        {
            if (!_scratch.TryRead(ref r)) return false;
            structure = _scratch;
            active = DecodeTargetMask(structure.DecodeTargetCount);
        }
        else if (HasStructure)
        {
            structure = _active;
        }
        else
        {
            // Nothing to resolve against until a key frame brings a structure.
            return true;
        }

        if (activePresent) active = r.Read(structure.DecodeTargetCount);

        // frame_dependency_definition()
        var templateIndex = (mandatory.TemplateId + 64 - structure.TemplateIdOffset) % 64;
        if (templateIndex >= structure.TemplateCount) return false;
        var dtCount = structure.DecodeTargetCount;

        ulong dtis = 0;
        if (customDtis)
        {
            for (var dt = 0; dt < dtCount; dt++) dtis |= (ulong)r.Read(2) << (2 * dt);
        }
        else
        {
            for (var dt = 0; dt < dtCount; dt++) dtis |= (ulong)structure.GetTemplateIndication(templateIndex, dt) << (2 * dt);
        }

        var frameDiffs = default(Av1DependencyDescriptor.FrameDiffBuffer);
        var frameDiffCount = 0;
        if (customFdiffs)
        {
            // next_fdiff_size: 0 ends, else the diff minus one follows in 4, 8 or 12 bits.
            for (var size = r.Read(2); size != 0; size = r.Read(2))
            {
                if (frameDiffCount == Av1DependencyDescriptor.MaxFrameDiffs) return false;
                frameDiffs[frameDiffCount++] = (ushort)(r.Read(4 * (int)size) + 1);
            }
        }
        else
        {
            var template = structure.GetTemplateFrameDiffs(templateIndex);
            for (var i = 0; i < template.Length; i++) frameDiffs[i] = template[i];
            frameDiffCount = template.Length;
        }

        var chainDiffs = default(Av1DependencyDescriptor.ChainDiffBuffer);
        var chainCount = structure.ChainCount;
        for (var c = 0; c < chainCount; c++)
            chainDiffs[c] = customChains ? (byte)r.Read(8) : (byte)structure.GetTemplateChainDiff(templateIndex, c);

        if (r.Overrun) return false;

        descriptor = new Av1DependencyDescriptor(FlagsOf(mandatory), mandatory.TemplateId, mandatory.FrameNumber, true,
            structure.GetTemplateSpatialId(templateIndex), structure.GetTemplateTemporalId(templateIndex), dtis, dtCount,
            active, frameDiffs, frameDiffCount, chainDiffs, chainCount);

        // Commit only now, so a malformed packet leaves the stream's state as it was.
        if (structurePresent)
        {
            (_active, _scratch) = (_scratch, _active);
            HasStructure = true;
        }
        ActiveDecodeTargets = active;
        return true;
    }

    private static uint DecodeTargetMask(int count) => count >= 32 ? uint.MaxValue : (1u << count) - 1;

    private static byte FlagsOf(in Av1DependencyDescriptor d) => (byte)(
        (d.IsStartOfFrame ? 0x01 : 0) | (d.IsEndOfFrame ? 0x02 : 0) | (d.HasExtendedFields ? 0x04 : 0) |
        (d.HasTemplateStructure ? 0x08 : 0) | (d.HasActiveDecodeTargets ? 0x10 : 0) | (d.HasCustomDtis ? 0x20 : 0) |
        (d.HasCustomFrameDiffs ? 0x40 : 0) | (d.HasCustomChains ? 0x80 : 0));
}
