using System.Buffers.Binary;

namespace Ferry.Protocols.Rtp;

/// <summary>Form of an RTP header extension block (RFC 8285).</summary>
public enum RtpExtensionForm : byte
{
    /// <summary>No header extension.</summary>
    None,
    /// <summary>One-byte header, profile 0xBEDE: ids 1-14, 1-16 bytes of data (§4.2).</summary>
    OneByte,
    /// <summary>Two-byte header, profile 0x100X: ids 1-255, 0-255 bytes of data (§4.3).</summary>
    TwoByte,
    /// <summary>A header extension with another profile: kept as it is, elements not readable.</summary>
    Other,
}

/// <summary>
/// A view over one RTP packet in a caller's buffer (RFC 3550 §5.1), read and rewritten in place.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |V=2|P|X|  CC   |M|     PT      |       sequence number         |
/// |                           timestamp                           |
/// |           synchronization source (SSRC) identifier            |
/// |            contributing source (CSRC) identifiers (CC)        |
/// |  defined by profile (0xBEDE)  |   length (32-bit words)       |  if X
/// |                     header extension data                     |
/// |                            payload  ...   padding | pad count |  if P
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// The buffer may be larger than the packet (its capacity); operations that grow the packet
/// (adding an extension, RTX encoding) use the room after <see cref="Length"/>.
/// </summary>
public ref partial struct RtpPacket
{
    /// <summary>Size of the fixed header.</summary>
    public const int FixedHeaderLength = 12;

    private Span<byte> _buffer;
    private int _length;
    private int _extensionOffset;   // offset of the 4-byte extension header, or -1
    private int _extensionLength;   // bytes of extension data after that header
    private int _payloadOffset;
    private int _paddingLength;

    /// <summary>
    /// Parses <paramref name="buffer"/>[0..<paramref name="length"/>) as RTP. False for anything
    /// malformed: wrong version, CSRCs or extension past the end, bad padding count.
    /// </summary>
    public static bool TryParse(Span<byte> buffer, int length, out RtpPacket packet)
    {
        packet = default;
        if ((uint)length > (uint)buffer.Length || length < FixedHeaderLength) return false;
        if (buffer[0] >> 6 != 2) return false;
        var offset = FixedHeaderLength + 4 * (buffer[0] & 0x0F);
        if (offset > length) return false;

        var extensionOffset = -1;
        var extensionLength = 0;
        if ((buffer[0] & 0x10) != 0)
        {
            if (offset + 4 > length) return false;
            extensionLength = 4 * BinaryPrimitives.ReadUInt16BigEndian(buffer[(offset + 2)..]);
            if (offset + 4 + extensionLength > length) return false;
            extensionOffset = offset;
            offset += 4 + extensionLength;
        }

        var padding = 0;
        if ((buffer[0] & 0x20) != 0)
        {
            padding = buffer[length - 1];
            if (padding == 0 || offset + padding > length) return false;
        }

        packet._buffer = buffer;
        packet._length = length;
        packet._extensionOffset = extensionOffset;
        packet._extensionLength = extensionLength;
        packet._payloadOffset = offset;
        packet._paddingLength = padding;
        return true;
    }

    /// <summary>
    /// Length of the header (fixed part, CSRCs, extension) without looking at padding or payload:
    /// what SRTP needs, since there the payload and padding count are still encrypted.
    /// </summary>
    public static bool TryGetHeaderLength(ReadOnlySpan<byte> packet, out int headerLength)
    {
        headerLength = 0;
        if (packet.Length < FixedHeaderLength || packet[0] >> 6 != 2) return false;
        var offset = FixedHeaderLength + 4 * (packet[0] & 0x0F);
        if ((packet[0] & 0x10) != 0)
        {
            if (offset + 4 > packet.Length) return false;
            offset += 4 + 4 * BinaryPrimitives.ReadUInt16BigEndian(packet[(offset + 2)..]);
        }
        if (offset > packet.Length) return false;
        headerLength = offset;
        return true;
    }

    /// <summary>Parses a buffer holding exactly one packet.</summary>
    public static bool TryParse(Span<byte> packet, out RtpPacket view) => TryParse(packet, packet.Length, out view);

    /// <summary>The whole packet.</summary>
    public readonly Span<byte> Data => _buffer[.._length];

    /// <summary>The buffer the packet lives in, including any room after it.</summary>
    public readonly Span<byte> Buffer => _buffer;

    /// <summary>Packet length in bytes.</summary>
    public readonly int Length => _length;

    /// <summary>Bytes before the payload: fixed header, CSRCs and extension.</summary>
    public readonly int HeaderLength => _payloadOffset;

    /// <summary>The P bit.</summary>
    public readonly bool HasPadding => (_buffer[0] & 0x20) != 0;

    /// <summary>Padding bytes at the end, the count byte included.</summary>
    public readonly int PaddingLength => _paddingLength;

    /// <summary>Number of CSRC identifiers.</summary>
    public readonly int CsrcCount => _buffer[0] & 0x0F;

    /// <summary>The marker bit.</summary>
    public bool Marker
    {
        readonly get => (_buffer[1] & 0x80) != 0;
        set => _buffer[1] = (byte)(value ? _buffer[1] | 0x80 : _buffer[1] & 0x7F);
    }

    /// <summary>Payload type (7 bits).</summary>
    public byte PayloadType
    {
        readonly get => (byte)(_buffer[1] & 0x7F);
        set => _buffer[1] = (byte)((_buffer[1] & 0x80) | (value & 0x7F));
    }

    /// <summary>Sequence number.</summary>
    public ushort SequenceNumber
    {
        readonly get => BinaryPrimitives.ReadUInt16BigEndian(_buffer[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], value);
    }

    /// <summary>RTP timestamp.</summary>
    public uint Timestamp
    {
        readonly get => BinaryPrimitives.ReadUInt32BigEndian(_buffer[4..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_buffer[4..], value);
    }

    /// <summary>Synchronization source.</summary>
    public uint Ssrc
    {
        readonly get => BinaryPrimitives.ReadUInt32BigEndian(_buffer[8..]);
        set => BinaryPrimitives.WriteUInt32BigEndian(_buffer[8..], value);
    }

    /// <summary>The CSRC at <paramref name="index"/> (0 ≤ index &lt; <see cref="CsrcCount"/>).</summary>
    public readonly uint GetCsrc(int index)
    {
        if ((uint)index >= (uint)CsrcCount) throw new ArgumentOutOfRangeException(nameof(index));
        return BinaryPrimitives.ReadUInt32BigEndian(_buffer[(FixedHeaderLength + 4 * index)..]);
    }

    /// <summary>The payload, without padding.</summary>
    public readonly Span<byte> Payload => _buffer[_payloadOffset..(_length - _paddingLength)];

    /// <summary>Payload length without padding.</summary>
    public readonly int PayloadLength => _length - _paddingLength - _payloadOffset;

    /// <summary>Drops the padding (the P bit is cleared and the packet shortened). Returns the bytes removed.</summary>
    public int RemovePadding()
    {
        var removed = _paddingLength;
        if (removed == 0) return 0;
        _buffer[0] &= 0xDF;
        _length -= removed;
        _paddingLength = 0;
        return removed;
    }

    /// <summary>
    /// Sets the payload length, keeping the header (for writers that fill <see cref="Payload"/> then
    /// size it). Padding is removed first. False when the buffer is too small.
    /// </summary>
    public bool SetPayloadLength(int payloadLength)
    {
        RemovePadding();
        if (payloadLength < 0 || _payloadOffset + payloadLength > _buffer.Length) return false;
        _length = _payloadOffset + payloadLength;
        return true;
    }
}
