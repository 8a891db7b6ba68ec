namespace Ferry.Protocols.Codecs;

/// <summary>
/// The VP8 payload descriptor at the start of every VP8 RTP payload (RFC 7741 §4.2), and what the
/// first bytes of the VP8 payload after it tell about the frame (§4.3 and RFC 6386 §9.1).
/// <code>
///       0 1 2 3 4 5 6 7
///      +-+-+-+-+-+-+-+-+
///      |X|R|N|S|R| PID |  (required)
///  X:  |I|L|T|K| RSV   |
///  I:  |M| PictureID   |  (M=1: 15 bits over two bytes)
///  L:  |   TL0PICIDX   |
///  T/K:|TID|Y| KEYIDX  |
///      +-+-+-+-+-+-+-+-+
///      |Size0|H| VER |P|  first byte of the VP8 payload header (P=0: key frame)
/// </code>
/// A plain value: the offsets it keeps let <see cref="TryWritePictureId"/> and
/// <see cref="TryWriteTl0PicIdx"/> rewrite the same buffer in place.
/// </summary>
public readonly struct Vp8PayloadDescriptor
{
    private readonly byte _flags;       // first byte
    private readonly byte _extension;   // X byte, or 0
    private readonly byte _tidByte;     // T/K byte, or 0
    private readonly bool _longPictureId;

    private Vp8PayloadDescriptor(byte flags, byte extension, byte tidByte, bool longPictureId, int pictureId, byte tl0, int length,
        bool isKeyFrame, ushort width, ushort height, byte widthScale, byte heightScale)
    {
        _flags = flags;
        _extension = extension;
        _tidByte = tidByte;
        _longPictureId = longPictureId;
        PictureId = pictureId;
        Tl0PicIdx = tl0;
        Length = length;
        IsKeyFrame = isKeyFrame;
        Width = width;
        Height = height;
        HorizontalScale = widthScale;
        VerticalScale = heightScale;
    }

    /// <summary>Length of the payload descriptor: the VP8 payload starts at this offset.</summary>
    public int Length { get; }

    /// <summary>X: the extension byte is present.</summary>
    public bool HasExtension => (_flags & 0x80) != 0;

    /// <summary>N: the frame is not used as a reference and can be dropped.</summary>
    public bool IsNonReference => (_flags & 0x20) != 0;

    /// <summary>S: the packet starts a VP8 partition.</summary>
    public bool IsStartOfPartition => (_flags & 0x10) != 0;

    /// <summary>PID: partition index (3 bits).</summary>
    public int PartitionId => _flags & 0x07;

    /// <summary>First packet of a frame: S=1 and PID=0.</summary>
    public bool IsStartOfFrame => IsStartOfPartition && PartitionId == 0;

    /// <summary>I: a PictureID is present.</summary>
    public bool HasPictureId => (_extension & 0x80) != 0;

    /// <summary>The PictureID field is 15 bits (M=1) rather than 7.</summary>
    public bool HasLongPictureId => _longPictureId;

    /// <summary>7 or 15 when a PictureID is present, 0 otherwise.</summary>
    public int PictureIdBits => HasPictureId ? (_longPictureId ? 15 : 7) : 0;

    /// <summary>PictureID (7 or 15 bits), or -1 when absent.</summary>
    public int PictureId { get; }

    /// <summary>L: TL0PICIDX is present.</summary>
    public bool HasTl0PicIdx => (_extension & 0x40) != 0;

    /// <summary>TL0PICIDX (running index of temporal base layer frames); meaningful when <see cref="HasTl0PicIdx"/>.</summary>
    public byte Tl0PicIdx { get; }

    /// <summary>T: TID and Y are present.</summary>
    public bool HasTemporalLayerId => (_extension & 0x20) != 0;

    /// <summary>TID: temporal layer index (2 bits); 0 when <see cref="HasTemporalLayerId"/> is false.</summary>
    public int TemporalLayerId => HasTemporalLayerId ? _tidByte >> 6 : 0;

    /// <summary>Y: layer sync, the frame depends only on temporal base layer frames.</summary>
    public bool IsLayerSync => HasTemporalLayerId && (_tidByte & 0x20) != 0;

    /// <summary>K: KEYIDX is present.</summary>
    public bool HasKeyIndex => (_extension & 0x10) != 0;

    /// <summary>KEYIDX (5 bits); 0 when <see cref="HasKeyIndex"/> is false.</summary>
    public int KeyIndex => HasKeyIndex ? _tidByte & 0x1F : 0;

    /// <summary>
    /// The packet starts a key frame: S=1, PID=0 and the P bit of the VP8 payload header is 0
    /// (RFC 7741 §4.3). False when the payload header byte is missing.
    /// </summary>
    public bool IsKeyFrame { get; }

    /// <summary>Frame width in pixels from the key frame header (14 bits), 0 when not read.</summary>
    public int Width { get; }

    /// <summary>Frame height in pixels from the key frame header (14 bits), 0 when not read.</summary>
    public int Height { get; }

    /// <summary>Horizontal upscaling code from the key frame header (2 bits).</summary>
    public int HorizontalScale { get; }

    /// <summary>Vertical upscaling code from the key frame header (2 bits).</summary>
    public int VerticalScale { get; }

    private int PictureIdLengthInBytes => HasPictureId ? (_longPictureId ? 2 : 1) : 0;

    /// <summary>Offset of the PictureID field in the payload, or -1.</summary>
    public int PictureIdOffset => HasPictureId ? 2 : -1;

    /// <summary>Offset of the TL0PICIDX byte in the payload, or -1.</summary>
    public int Tl0PicIdxOffset => HasTl0PicIdx ? 2 + PictureIdLengthInBytes : -1;

    /// <summary>
    /// Parses the descriptor at the start of <paramref name="payload"/>. False when it is truncated
    /// (the descriptor itself must be complete; the VP8 payload after it may be empty).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out Vp8PayloadDescriptor descriptor)
    {
        descriptor = default;
        if (payload.IsEmpty) return false;
        var flags = payload[0];
        var offset = 1;
        byte extension = 0, tl0 = 0, tidByte = 0;
        var pictureId = -1;
        var longPictureId = false;
        if ((flags & 0x80) != 0)
        {
            if (offset >= payload.Length) return false;
            extension = payload[offset++];
            if ((extension & 0x80) != 0)
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
            if ((extension & 0x40) != 0)
            {
                if (offset >= payload.Length) return false;
                tl0 = payload[offset++];
            }
            if ((extension & 0x30) != 0)
            {
                if (offset >= payload.Length) return false;
                tidByte = payload[offset++];
            }
        }

        var isKeyFrame = false;
        ushort width = 0, height = 0;
        byte hScale = 0, vScale = 0;
        // The payload header is only at the start of partition 0 of a frame.
        if ((flags & 0x17) == 0x10 && offset < payload.Length && (payload[offset] & 0x01) == 0)
        {
            isKeyFrame = true;
            // Key frame header: 3-byte frame tag, start code 9d 01 2a, then 16-bit little-endian width and
            // height, each 14 bits of size and 2 bits of scale (RFC 6386 §9.1).
            var header = payload[offset..];
            if (header.Length >= 10 && header[3] == 0x9D && header[4] == 0x01 && header[5] == 0x2A)
            {
                var w = header[6] | header[7] << 8;
                var h = header[8] | header[9] << 8;
                width = (ushort)(w & 0x3FFF);
                hScale = (byte)(w >> 14);
                height = (ushort)(h & 0x3FFF);
                vScale = (byte)(h >> 14);
            }
        }

        descriptor = new Vp8PayloadDescriptor(flags, extension, tidByte, longPictureId, pictureId, tl0, offset, isKeyFrame,
            width, height, hScale, vScale);
        return true;
    }

    /// <summary>
    /// Writes <paramref name="pictureId"/> into the PictureID field of <paramref name="payload"/> in place,
    /// keeping the field's width: a 7-bit field takes the low 7 bits, a 15-bit field the low 15 (M stays 1).
    /// False when the descriptor has no PictureID or does not parse.
    /// </summary>
    public static bool TryWritePictureId(Span<byte> payload, int pictureId)
    {
        if (!TryParse(payload, out var d) || !d.HasPictureId) return false;
        d.WritePictureId(payload, pictureId);
        return true;
    }

    /// <summary>Writes TL0PICIDX in place. False when the descriptor has none or does not parse.</summary>
    public static bool TryWriteTl0PicIdx(Span<byte> payload, byte tl0PicIdx)
    {
        if (!TryParse(payload, out var d) || !d.HasTl0PicIdx) return false;
        payload[d.Tl0PicIdxOffset] = tl0PicIdx;
        return true;
    }

    // The caller has parsed this descriptor from the same payload, so the offsets are in range.
    internal void WritePictureId(Span<byte> payload, int pictureId)
    {
        if (PictureIdLengthInBytes == 2)
        {
            payload[2] = (byte)(0x80 | (pictureId >> 8) & 0x7F);
            payload[3] = (byte)pictureId;
        }
        else
        {
            payload[2] = (byte)(pictureId & 0x7F);
        }
    }
}
