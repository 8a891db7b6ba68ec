using System.Buffers.Binary;

namespace Ferry.Protocols.Codecs;

/// <summary>
/// The VP9 payload descriptor at the start of every VP9 RTP payload (RFC 9628 §4.2, formerly
/// draft-ietf-payload-vp9-16), a view over the caller's buffer.
/// <code>
///       0 1 2 3 4 5 6 7
///      +-+-+-+-+-+-+-+-+
///      |I|P|L|F|B|E|V|Z|  (required)
///  I:  |M| PICTURE ID  |  (M=1: 15 bits over two bytes)
///  L:  |  TID  |U| SID |D|
///      |   TL0PICIDX   |  (non-flexible mode only, F=0)
///  P,F:| P_DIFF      |N|  (flexible mode, up to 3, N=1: another follows)
///  V:  | SS ...        |  (scalability structure)
///      +-+-+-+-+-+-+-+-+
/// </code>
/// </summary>
public readonly ref struct Vp9PayloadDescriptor
{
    /// <summary>Most reference indices a flexible-mode packet carries (RFC 9628 §4.2).</summary>
    public const int MaxReferenceCount = 3;

    private readonly ReadOnlySpan<byte> _payload;
    private readonly byte _flags;
    private readonly byte _layerByte;
    private readonly byte _tl0;
    private readonly byte _pDiffOffset;
    private readonly byte _pDiffCount;

    private Vp9PayloadDescriptor(ReadOnlySpan<byte> payload, int length, int pictureId, bool longPictureId,
        byte layerByte, byte tl0, int pDiffOffset, int pDiffCount, Vp9ScalabilityStructure ss)
    {
        _payload = payload;
        _flags = payload[0];
        Length = length;
        PictureId = pictureId;
        HasLongPictureId = longPictureId;
        _layerByte = layerByte;
        _tl0 = tl0;
        _pDiffOffset = (byte)pDiffOffset;
        _pDiffCount = (byte)pDiffCount;
        ScalabilityStructure = ss;
    }

    // A copy of the first byte, so that a default instance (after a failed parse) reads as all zeros.
    private byte Flags => _flags;

    /// <summary>Length of the descriptor: the VP9 frame data starts at this offset.</summary>
    public int Length { get; }

    /// <summary>I: a picture ID is present.</summary>
    public bool HasPictureId => (Flags & 0x80) != 0;

    /// <summary>P: inter-picture predicted (the frame references an earlier picture).</summary>
    public bool IsInterPicturePredicted => (Flags & 0x40) != 0;

    /// <summary>L: layer indices are present.</summary>
    public bool HasLayerIndices => (Flags & 0x20) != 0;

    /// <summary>F: flexible mode (references as P_DIFFs, no TL0PICIDX).</summary>
    public bool IsFlexibleMode => (Flags & 0x10) != 0;

    /// <summary>B: the packet starts a frame (of its spatial layer).</summary>
    public bool IsStartOfFrame => (Flags & 0x08) != 0;

    /// <summary>E: the packet ends a frame (of its spatial layer).</summary>
    public bool IsEndOfFrame => (Flags & 0x04) != 0;

    /// <summary>V: a scalability structure is present.</summary>
    public bool HasScalabilityStructure => (Flags & 0x02) != 0;

    /// <summary>Z: the frame is not used for inter-layer prediction by the next spatial layer.</summary>
    public bool IsNotUpperLayerReference => (Flags & 0x01) != 0;

    /// <summary>Picture ID (7 or 15 bits), or -1 when absent.</summary>
    public int PictureId { get; }

    /// <summary>The picture ID field is 15 bits (M=1).</summary>
    public bool HasLongPictureId { get; }

    /// <summary>TID: temporal layer (3 bits); 0 without layer indices.</summary>
    public int TemporalLayerId => _layerByte >> 5;

    /// <summary>U: switching up point to a higher temporal layer.</summary>
    public bool IsSwitchingUpPoint => (_layerByte & 0x10) != 0;

    /// <summary>SID: spatial layer (3 bits); 0 without layer indices.</summary>
    public int SpatialLayerId => (_layerByte >> 1) & 0x07;

    /// <summary>D: the frame depends on the lower spatial layer of the same picture (inter-layer dependency).</summary>
    public bool HasInterLayerDependency => (_layerByte & 0x01) != 0;

    /// <summary>TL0PICIDX is present: layer indices in non-flexible mode.</summary>
    public bool HasTl0PicIdx => HasLayerIndices && !IsFlexibleMode;

    /// <summary>TL0PICIDX; meaningful when <see cref="HasTl0PicIdx"/>.</summary>
    public byte Tl0PicIdx => _tl0;

    /// <summary>Offset of the TL0PICIDX byte in the payload, or -1.</summary>
    public int Tl0PicIdxOffset => HasTl0PicIdx ? 2 + (HasPictureId ? (HasLongPictureId ? 2 : 1) : 0) : -1;

    /// <summary>Number of P_DIFFs (flexible mode with P=1), 0 to 3.</summary>
    public int ReferenceCount => _pDiffCount;

    /// <summary>
    /// The <paramref name="index"/>-th P_DIFF: how many pictures back (in picture ID) the reference is.
    /// 0 for an index out of range.
    /// </summary>
    public int GetReferenceDiff(int index) =>
        (uint)index < _pDiffCount ? _payload[_pDiffOffset + index] >> 1 : 0;

    /// <summary>The scalability structure; empty (<see cref="Vp9ScalabilityStructure.IsPresent"/> false) when V=0.</summary>
    public Vp9ScalabilityStructure ScalabilityStructure { get; }

    /// <summary>
    /// Key frame rule: P=0 (no inter-picture prediction), B=1 (start of the frame) and spatial layer 0
    /// (or no layer indices). This is the first packet of a picture the receiver can start decoding from;
    /// upper spatial layers of that picture have P=0 too but depend on layer 0, so they do not count.
    /// </summary>
    public bool IsKeyFrame => !IsInterPicturePredicted && IsStartOfFrame && SpatialLayerId == 0;

    /// <summary>Parses the descriptor at the start of <paramref name="payload"/>. False when truncated or malformed.</summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out Vp9PayloadDescriptor descriptor)
    {
        descriptor = default;
        if (payload.IsEmpty) return false;
        var flags = payload[0];
        var offset = 1;

        var pictureId = -1;
        var longPictureId = false;
        if ((flags & 0x80) != 0)
        {
            if (offset >= payload.Length) return false;
            var first = payload[offset++];
            if ((first & 0x80) != 0)
            {
                if (offset >= payload.Length) return false;
                pictureId = (first & 0x7F) << 8 | payload[offset++];
                longPictureId = true;
            }
            else
            {
                pictureId = first;
            }
        }

        byte layer = 0, tl0 = 0;
        if ((flags & 0x20) != 0)
        {
            if (offset >= payload.Length) return false;
            layer = payload[offset++];
            if ((flags & 0x10) == 0)
            {
                if (offset >= payload.Length) return false;
                tl0 = payload[offset++];
            }
        }

        var pDiffOffset = offset;
        var pDiffCount = 0;
        if ((flags & 0x50) == 0x50)
        {
            // Flexible mode with inter-picture prediction: P_DIFFs, each with N=1 when another follows.
            while (true)
            {
                if (offset >= payload.Length) return false;
                var b = payload[offset++];
                pDiffCount++;
                if ((b & 0x01) == 0) break;
                if (pDiffCount == MaxReferenceCount) return false;
            }
        }

        var ss = default(Vp9ScalabilityStructure);
        if ((flags & 0x02) != 0)
        {
            if (!Vp9ScalabilityStructure.TryParse(payload[offset..], out ss)) return false;
            offset += ss.Length;
        }

        descriptor = new Vp9PayloadDescriptor(payload, offset, pictureId, longPictureId, layer, tl0, pDiffOffset,
            pDiffCount, ss);
        return true;
    }

    /// <summary>
    /// Writes <paramref name="pictureId"/> in place, keeping the field's 7- or 15-bit width.
    /// False when the descriptor has no picture ID or does not parse.
    /// </summary>
    public static bool TryWritePictureId(Span<byte> payload, int pictureId)
    {
        if (!TryParse(payload, out var d) || !d.HasPictureId) return false;
        WritePictureId(payload, d.HasLongPictureId, pictureId);
        return true;
    }

    // The caller has parsed a descriptor with a picture ID from this payload.
    internal static void WritePictureId(Span<byte> payload, bool longField, int pictureId)
    {
        if (longField)
        {
            payload[1] = (byte)(0x80 | (pictureId >> 8) & 0x7F);
            payload[2] = (byte)pictureId;
        }
        else
        {
            payload[1] = (byte)(pictureId & 0x7F);
        }
    }

    /// <summary>Writes TL0PICIDX in place. False when there is none (flexible mode, no layer indices) or no parse.</summary>
    public static bool TryWriteTl0PicIdx(Span<byte> payload, byte tl0PicIdx)
    {
        if (!TryParse(payload, out var d) || !d.HasTl0PicIdx) return false;
        payload[d.Tl0PicIdxOffset] = tl0PicIdx;
        return true;
    }
}

/// <summary>
/// The VP9 scalability structure (SS, RFC 9628 §4.2.1), a view over the caller's buffer.
/// <code>
///  V:  | N_S |Y|G|-|-|-|
///  Y:  |     WIDTH     |  16 bits  } N_S + 1 times
///      |     HEIGHT    |  16 bits  }
///  G:  |      N_G      |
///      |  TID  |U| R |-|-|   } N_G times
///      |    P_DIFF     |     } R times
/// </code>
/// </summary>
public readonly ref struct Vp9ScalabilityStructure
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly byte _pictureGroupCount;

    private Vp9ScalabilityStructure(ReadOnlySpan<byte> data, int pictureGroupCount)
    {
        _data = data;
        _pictureGroupCount = (byte)pictureGroupCount;
    }

    /// <summary>The descriptor carried a scalability structure.</summary>
    public bool IsPresent => !_data.IsEmpty;

    /// <summary>Length in bytes.</summary>
    public int Length => _data.Length;

    /// <summary>Number of spatial layers (N_S + 1), 0 when not present.</summary>
    public int SpatialLayerCount => IsPresent ? (_data[0] >> 5) + 1 : 0;

    /// <summary>Y: each spatial layer's resolution is given.</summary>
    public bool HasResolutions => IsPresent && (_data[0] & 0x10) != 0;

    /// <summary>G: a picture group description is given.</summary>
    public bool HasPictureGroup => IsPresent && (_data[0] & 0x08) != 0;

    /// <summary>N_G: number of pictures in the picture group.</summary>
    public int PictureGroupCount => _pictureGroupCount;

    /// <summary>Resolution of a spatial layer. False without resolutions or for a layer out of range.</summary>
    public bool TryGetResolution(int spatialLayer, out int width, out int height)
    {
        width = height = 0;
        if (!HasResolutions || (uint)spatialLayer >= (uint)SpatialLayerCount) return false;
        var at = 1 + 4 * spatialLayer;
        width = BinaryPrimitives.ReadUInt16BigEndian(_data[at..]);
        height = BinaryPrimitives.ReadUInt16BigEndian(_data[(at + 2)..]);
        return true;
    }

    /// <summary>
    /// The <paramref name="index"/>-th picture of the group: its temporal layer, switching-up flag and
    /// reference diffs (each byte a P_DIFF). False for an index out of range.
    /// </summary>
    public bool TryGetPictureGroupEntry(int index, out int temporalLayerId, out bool switchingUpPoint,
        out ReadOnlySpan<byte> referenceDiffs)
    {
        temporalLayerId = 0;
        switchingUpPoint = false;
        referenceDiffs = default;
        if ((uint)index >= _pictureGroupCount) return false;
        var at = GroupStart + 1;
        for (var i = 0; i < index; i++) at += 1 + ((_data[at] >> 2) & 0x03);
        var b = _data[at];
        temporalLayerId = b >> 5;
        switchingUpPoint = (b & 0x10) != 0;
        referenceDiffs = _data.Slice(at + 1, (b >> 2) & 0x03);
        return true;
    }

    private int GroupStart => 1 + (HasResolutions ? 4 * SpatialLayerCount : 0);

    /// <summary>Parses a structure at the start of <paramref name="data"/>; the view covers exactly its bytes.</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out Vp9ScalabilityStructure structure)
    {
        structure = default;
        if (data.IsEmpty) return false;
        var head = data[0];
        var offset = 1;
        if ((head & 0x10) != 0) offset += 4 * ((head >> 5) + 1);
        if (offset > data.Length) return false;
        var groupCount = 0;
        if ((head & 0x08) != 0)
        {
            if (offset >= data.Length) return false;
            groupCount = data[offset++];
            for (var i = 0; i < groupCount; i++)
            {
                if (offset >= data.Length) return false;
                var references = (data[offset++] >> 2) & 0x03;
                offset += references;
                if (offset > data.Length) return false;
            }
        }
        structure = new Vp9ScalabilityStructure(data[..offset], groupCount);
        return true;
    }
}
