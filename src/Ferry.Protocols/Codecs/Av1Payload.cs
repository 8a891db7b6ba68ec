namespace Ferry.Protocols.Codecs;

/// <summary>
/// The AV1 RTP payload (AOM "RTP Payload Format for AV1" §4.4): the aggregation header and the OBU
/// elements after it.
/// <code>
///  0 1 2 3 4 5 6 7
/// +-+-+-+-+-+-+-+-+
/// |Z|Y| W |N|-|-|-|   Z: first element continues an OBU; Y: last element continues in the next packet;
/// +-+-+-+-+-+-+-+-+   W: element count (0: every element has a length); N: first packet of a coded video sequence
///  then OBU elements: [leb128 length] OBU, the last one without length when W is not 0.
///  OBU header: |F| type  |X|S|R|   extension (X=1): | tid | sid |-|-|-|
/// </code>
/// </summary>
public readonly struct Av1Payload
{
    /// <summary>OBU type of a sequence header.</summary>
    public const int SequenceHeaderObu = 1;
    /// <summary>OBU type of a temporal delimiter.</summary>
    public const int TemporalDelimiterObu = 2;
    /// <summary>OBU type of a frame header.</summary>
    public const int FrameHeaderObu = 3;
    /// <summary>OBU type of a frame (header and tiles).</summary>
    public const int FrameObu = 6;

    private readonly byte _header;

    private Av1Payload(byte header, int elementCount, ushort obuTypes, int temporalId, int spatialId)
    {
        _header = header;
        ElementCount = elementCount;
        ObuTypes = obuTypes;
        TemporalId = temporalId;
        SpatialId = spatialId;
    }

    /// <summary>Z: the first OBU element is the rest of an OBU begun in an earlier packet.</summary>
    public bool StartsWithContinuation => (_header & 0x80) != 0;

    /// <summary>Y: the last OBU element continues in the next packet.</summary>
    public bool EndsWithFragment => (_header & 0x40) != 0;

    /// <summary>W: the number of OBU elements when not 0 (1-3); 0 means each element has a length.</summary>
    public int W => (_header >> 4) & 0x03;

    /// <summary>N: the packet is the first of a coded video sequence.</summary>
    public bool IsNewCodedVideoSequence => (_header & 0x08) != 0;

    /// <summary>
    /// Key frame rule: N=1. A coded video sequence starts with a key frame (with its sequence header), so
    /// its first packet is where a receiver can start; the spec has N=1 for exactly that packet.
    /// </summary>
    public bool IsKeyFrame => IsNewCodedVideoSequence;

    /// <summary>Number of OBU elements in the packet.</summary>
    public int ElementCount { get; }

    /// <summary>Bit n set when an OBU of type n starts in this packet (continuations have no header to read).</summary>
    public ushort ObuTypes { get; }

    /// <summary>Whether an OBU of <paramref name="obuType"/> (0-15) starts in this packet.</summary>
    public bool Contains(int obuType) => (uint)obuType < 16 && (ObuTypes & 1 << obuType) != 0;

    /// <summary>temporal_id of the first OBU with an extension header, or -1.</summary>
    public int TemporalId { get; }

    /// <summary>spatial_id of the first OBU with an extension header, or -1.</summary>
    public int SpatialId { get; }

    /// <summary>
    /// Reads the aggregation header and walks the OBU elements. False when the payload has no element, when a
    /// length runs past the end or is not a valid leb128, when an element is empty, or when W names more
    /// elements than there are.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out Av1Payload result)
    {
        result = default;
        if (payload.Length < 2) return false;
        var header = payload[0];
        var w = (header >> 4) & 0x03;
        var offset = 1;
        var count = 0;
        ushort types = 0;
        int tid = -1, sid = -1;
        while (offset < payload.Length)
        {
            int length;
            if (w != 0 && count == w - 1)
            {
                // The last of W elements takes the rest of the payload.
                length = payload.Length - offset;
            }
            else
            {
                if (!TryReadLeb128(payload[offset..], out var value, out var read)) return false;
                offset += read;
                if (value == 0 || value > (ulong)(payload.Length - offset)) return false;
                length = (int)value;
            }
            if (length == 0) return false;

            var isContinuation = count == 0 && (header & 0x80) != 0;
            if (!isContinuation)
            {
                var obu = payload[offset];
                types |= (ushort)(1 << ((obu >> 3) & 0x0F));
                if ((obu & 0x04) != 0 && length >= 2 && tid < 0)
                {
                    tid = payload[offset + 1] >> 5;
                    sid = (payload[offset + 1] >> 3) & 0x03;
                }
            }
            offset += length;
            count++;
        }
        if (count == 0 || (w != 0 && count != w)) return false;
        result = new Av1Payload(header, count, types, tid, sid);
        return true;
    }

    /// <summary>Reads an unsigned LEB128 value of at most 8 bytes (AV1 §4.10.5).</summary>
    public static bool TryReadLeb128(ReadOnlySpan<byte> data, out ulong value, out int length)
    {
        value = 0;
        length = 0;
        for (var i = 0; i < 8 && i < data.Length; i++)
        {
            var b = data[i];
            value |= (ulong)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                length = i + 1;
                return value <= uint.MaxValue;
            }
        }
        value = 0;
        return false;
    }
}
