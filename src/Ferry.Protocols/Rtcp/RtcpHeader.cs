using System.Buffers.Binary;

namespace Ferry.Protocols.Rtcp;

/// <summary>
/// One RTCP packet inside a compound packet (RFC 3550 §6.4.1 common header):
/// <code>
///  0                   1                   2                   3
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |V=2|P|  Count  |      PT       |             length            |  length in 32-bit words minus one
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Count is the report count, source count or, for feedback, the FMT.
/// </summary>
public readonly ref struct RtcpPacket
{
    internal RtcpPacket(ReadOnlySpan<byte> data, int paddingLength)
    {
        Data = data;
        PaddingLength = paddingLength;
    }

    /// <summary>The whole packet, header included, padding included.</summary>
    public ReadOnlySpan<byte> Data { get; }

    /// <summary>Padding bytes at its end (only the last packet of a compound may have them).</summary>
    public int PaddingLength { get; }

    /// <summary>Packet type.</summary>
    public byte Type => Data[1];

    /// <summary>The 5-bit count / FMT field.</summary>
    public int Count => Data[0] & 0x1F;

    /// <summary>Bytes after the 4-byte header, without padding.</summary>
    public ReadOnlySpan<byte> Body => Data[4..^PaddingLength];

    /// <summary>The first SSRC after the header (sender SSRC for SR/RR/feedback), 0 when absent.</summary>
    public uint SenderSsrc => Data.Length >= 8 ? BinaryPrimitives.ReadUInt32BigEndian(Data[4..]) : 0;

    /// <summary>Writes a common header.</summary>
    internal static void WriteHeader(Span<byte> destination, int count, byte type, int totalLength)
    {
        destination[0] = (byte)(0x80 | (count & 0x1F));
        destination[1] = type;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)(totalLength / 4 - 1));
    }
}

/// <summary>
/// Walks the packets of a compound RTCP datagram. Stops (with <see cref="IsMalformed"/> set) at
/// the first packet whose header is invalid or whose length runs past the datagram; what came
/// before stays usable. Reduced-size RTCP (RFC 5506) is accepted: no rule on the first packet.
/// </summary>
public ref struct RtcpCompoundEnumerator
{
    private readonly ReadOnlySpan<byte> _data;
    private int _offset;
    private RtcpPacket _current;

    /// <summary>Starts at the first packet of <paramref name="datagram"/>.</summary>
    public RtcpCompoundEnumerator(ReadOnlySpan<byte> datagram)
    {
        _data = datagram;
        _offset = 0;
        _current = default;
        IsMalformed = false;
    }

    /// <summary>True when iteration stopped at a malformed packet.</summary>
    public bool IsMalformed { get; private set; }

    /// <summary>The current packet.</summary>
    public readonly RtcpPacket Current => _current;

    /// <summary>Enables foreach.</summary>
    public readonly RtcpCompoundEnumerator GetEnumerator() => this;

    /// <summary>Moves to the next packet.</summary>
    public bool MoveNext()
    {
        if (_offset >= _data.Length || IsMalformed) return false;
        var rest = _data[_offset..];
        if (rest.Length < 4 || rest[0] >> 6 != 2)
        {
            IsMalformed = true;
            return false;
        }
        var length = 4 * (BinaryPrimitives.ReadUInt16BigEndian(rest[2..]) + 1);
        if (length > rest.Length)
        {
            IsMalformed = true;
            return false;
        }
        var packet = rest[..length];
        var padding = 0;
        if ((packet[0] & 0x20) != 0)
        {
            padding = packet[^1];
            // Padding only on the last packet, and never into the header.
            if (_offset + length != _data.Length || padding == 0 || padding > length - 4)
            {
                IsMalformed = true;
                return false;
            }
        }
        _current = new RtcpPacket(packet, padding);
        _offset += length;
        return true;
    }

    /// <summary>Checks a whole datagram: at least one packet and every header valid.</summary>
    public static bool IsValid(ReadOnlySpan<byte> datagram)
    {
        var e = new RtcpCompoundEnumerator(datagram);
        var count = 0;
        while (e.MoveNext()) count++;
        return count > 0 && !e.IsMalformed;
    }
}
