using System.Buffers.Binary;

namespace Ferry.Protocols.Sctp;

/// <summary>Why a datagram was not accepted as an SCTP packet.</summary>
public enum SctpParseResult : byte
{
    /// <summary>A well-formed common header with a correct checksum.</summary>
    Ok,
    /// <summary>Shorter than the 12-byte common header.</summary>
    TooShort,
    /// <summary>The CRC-32C does not match.</summary>
    BadChecksum,
}

/// <summary>
/// A view of an SCTP packet's common header (RFC 9260 §3.1) over the caller's bytes.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Source Port Number       |    Destination Port Number    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Verification Tag                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                           Checksum                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Chunk #1 ... Chunk #n                     |
/// </code>
/// The checksum is the CRC-32C of the whole packet computed with the checksum field zeroed, stored
/// least significant byte first (the byte order the reflected CRC produces; RFC 9260 Appendix A).
/// </summary>
public readonly ref struct SctpPacket
{
    /// <summary>Size of the common header.</summary>
    public const int HeaderSize = 12;

    private readonly ReadOnlySpan<byte> _data;

    private SctpPacket(ReadOnlySpan<byte> data) => _data = data;

    /// <summary>Source port.</summary>
    public ushort SourcePort => BinaryPrimitives.ReadUInt16BigEndian(_data);

    /// <summary>Destination port.</summary>
    public ushort DestinationPort => BinaryPrimitives.ReadUInt16BigEndian(_data[2..]);

    /// <summary>Verification tag.</summary>
    public uint VerificationTag => BinaryPrimitives.ReadUInt32BigEndian(_data[4..]);

    /// <summary>Everything after the common header.</summary>
    public ReadOnlySpan<byte> ChunkBytes => _data[HeaderSize..];

    /// <summary>The chunks, in order.</summary>
    public SctpChunkEnumerator Chunks => new(_data[HeaderSize..]);

    /// <summary>Parses the common header and checks the checksum; never throws.</summary>
    public static SctpParseResult TryParse(ReadOnlySpan<byte> data, out SctpPacket packet)
    {
        packet = default;
        if (data.Length < HeaderSize) return SctpParseResult.TooShort;
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(data[8..]);
        if (ComputeChecksum(data) != stored) return SctpParseResult.BadChecksum;
        packet = new SctpPacket(data);
        return SctpParseResult.Ok;
    }

    /// <summary>The CRC-32C of <paramref name="packet"/> as if its checksum field were zero.</summary>
    public static uint ComputeChecksum(ReadOnlySpan<byte> packet)
    {
        Span<byte> zero = stackalloc byte[4];
        zero.Clear();
        var crc = Crc32c.Update(0xFFFFFFFFu, packet[..8]);
        crc = Crc32c.Update(crc, zero);
        crc = Crc32c.Update(crc, packet[HeaderSize..]);
        return ~crc;
    }

    /// <summary>Writes the checksum of a finished packet into its header.</summary>
    public static void WriteChecksum(Span<byte> packet) =>
        BinaryPrimitives.WriteUInt32LittleEndian(packet[8..], ComputeChecksum(packet));
}

/// <summary>
/// One chunk (RFC 9260 §3.2): type, flags and its value (the bytes after the 4-byte header, up to its
/// length, without padding).
/// <code>
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Chunk Type  | Chunk  Flags  |        Chunk Length           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// \                          Chunk Value                          /
/// </code>
/// </summary>
public readonly ref struct SctpChunk
{
    internal SctpChunk(byte type, byte flags, ReadOnlySpan<byte> value, ReadOnlySpan<byte> raw)
    {
        Type = type;
        Flags = flags;
        Value = value;
        Raw = raw;
    }

    /// <summary>Chunk type.</summary>
    public byte Type { get; }
    /// <summary>Chunk flags.</summary>
    public byte Flags { get; }
    /// <summary>Value bytes, without header and padding.</summary>
    public ReadOnlySpan<byte> Value { get; }
    /// <summary>Header and value (for reporting an unrecognized chunk).</summary>
    public ReadOnlySpan<byte> Raw { get; }
}

/// <summary>
/// Walks the chunks of a packet. Stops at the first chunk whose length is below 4 or runs past the
/// packet and sets <see cref="IsMalformed"/>; a missing pad after the last chunk is tolerated.
/// </summary>
public ref struct SctpChunkEnumerator
{
    private ReadOnlySpan<byte> _rest;
    private SctpChunk _current;

    internal SctpChunkEnumerator(ReadOnlySpan<byte> chunks)
    {
        _rest = chunks;
        _current = default;
        IsMalformed = false;
    }

    /// <summary>The current chunk.</summary>
    public readonly SctpChunk Current => _current;

    /// <summary>True when walking stopped on a bad chunk header.</summary>
    public bool IsMalformed { get; private set; }

    /// <summary>For foreach.</summary>
    public readonly SctpChunkEnumerator GetEnumerator() => this;

    /// <summary>Advances to the next chunk.</summary>
    public bool MoveNext()
    {
        if (_rest.IsEmpty || IsMalformed) return false;
        if (_rest.Length < 4)
        {
            IsMalformed = true;
            return false;
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(_rest[2..]);
        if (length < 4 || length > _rest.Length)
        {
            IsMalformed = true;
            return false;
        }
        _current = new SctpChunk(_rest[0], _rest[1], _rest[4..length], _rest[..length]);
        var padded = (length + 3) & ~3;
        _rest = padded >= _rest.Length ? ReadOnlySpan<byte>.Empty : _rest[padded..];
        return true;
    }
}

/// <summary>
/// Walks type-length-value items with a 16-bit type and a 16-bit length that includes the 4-byte
/// header, padded to 4 bytes: INIT parameters (RFC 9260 §3.2.1), error causes (§3.3.10), RE-CONFIG
/// parameters (RFC 6525 §4). Stops at the first bad length and sets <see cref="IsMalformed"/>.
/// </summary>
public ref struct SctpTlvEnumerator
{
    private ReadOnlySpan<byte> _rest;

    /// <summary>Walks <paramref name="data"/>.</summary>
    public SctpTlvEnumerator(ReadOnlySpan<byte> data)
    {
        _rest = data;
        Type = 0;
        Value = default;
        Raw = default;
        IsMalformed = false;
    }

    /// <summary>Type of the current item.</summary>
    public ushort Type { get; private set; }

    /// <summary>Value of the current item (without header and padding).</summary>
    public ReadOnlySpan<byte> Value { get; private set; }

    /// <summary>The current item with its header.</summary>
    public ReadOnlySpan<byte> Raw { get; private set; }

    /// <summary>True when walking stopped on a bad item.</summary>
    public bool IsMalformed { get; private set; }

    /// <summary>Advances to the next item.</summary>
    public bool MoveNext()
    {
        if (_rest.IsEmpty || IsMalformed) return false;
        if (_rest.Length < 4)
        {
            IsMalformed = true;
            return false;
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(_rest[2..]);
        if (length < 4 || length > _rest.Length)
        {
            IsMalformed = true;
            return false;
        }
        Type = BinaryPrimitives.ReadUInt16BigEndian(_rest);
        Value = _rest[4..length];
        Raw = _rest[..length];
        var padded = (length + 3) & ~3;
        _rest = padded >= _rest.Length ? ReadOnlySpan<byte>.Empty : _rest[padded..];
        return true;
    }
}

/// <summary>
/// Builds an SCTP packet in the caller's buffer: the common header, then chunks (each padded to 4
/// bytes), then the checksum. Every method checks the room left and returns false rather than write
/// past the buffer.
/// </summary>
public ref struct SctpPacketWriter
{
    private readonly Span<byte> _buffer;
    private int _length;
    private int _chunkStart;

    /// <summary>Starts a packet with its common header (checksum zero until <see cref="Finish"/>).</summary>
    public SctpPacketWriter(Span<byte> buffer, ushort sourcePort, ushort destinationPort, uint verificationTag)
    {
        if (buffer.Length < SctpPacket.HeaderSize) throw new ArgumentException("buffer smaller than an SCTP header", nameof(buffer));
        _buffer = buffer;
        BinaryPrimitives.WriteUInt16BigEndian(buffer, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], verificationTag);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[8..], 0);
        _length = SctpPacket.HeaderSize;
        _chunkStart = -1;
    }

    /// <summary>Bytes written so far (chunks padded).</summary>
    public readonly int Length => _length;

    /// <summary>Room left for more bytes.</summary>
    public readonly int Remaining => _buffer.Length - _length;

    /// <summary>True once a chunk was added.</summary>
    public readonly bool HasChunks => _length > SctpPacket.HeaderSize;

    /// <summary>
    /// Opens a chunk whose value is <paramref name="valueLength"/> bytes and returns the span to fill;
    /// false when it does not fit (padding included). Call <see cref="EndChunk"/> after filling it.
    /// </summary>
    public bool TryBeginChunk(byte type, byte flags, int valueLength, out Span<byte> value)
    {
        var padded = (4 + valueLength + 3) & ~3;
        if (_chunkStart >= 0 || valueLength < 0 || 4 + valueLength > ushort.MaxValue || padded > Remaining)
        {
            value = default;
            return false;
        }
        _chunkStart = _length;
        _buffer[_length] = type;
        _buffer[_length + 1] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[(_length + 2)..], (ushort)(4 + valueLength));
        value = _buffer.Slice(_length + 4, valueLength);
        _length += 4 + valueLength;
        return true;
    }

    /// <summary>Closes the chunk opened last: zero padding to 4 bytes.</summary>
    public void EndChunk()
    {
        if (_chunkStart < 0) return;
        while ((_length & 3) != 0) _buffer[_length++] = 0;
        _chunkStart = -1;
    }

    /// <summary>Adds a whole chunk with the given value bytes.</summary>
    public bool TryAddChunk(byte type, byte flags, ReadOnlySpan<byte> value)
    {
        if (!TryBeginChunk(type, flags, value.Length, out var span)) return false;
        value.CopyTo(span);
        EndChunk();
        return true;
    }

    /// <summary>Writes the checksum and returns the packet's length.</summary>
    public readonly int Finish()
    {
        SctpPacket.WriteChecksum(_buffer[.._length]);
        return _length;
    }
}
