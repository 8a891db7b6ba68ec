using System.Buffers.Binary;

namespace Ferry.Protocols.Rtp;

/// <summary>
/// Writes a new RTP packet into a caller's buffer: header, then extension elements, then payload.
/// <code>
/// var w = new RtpPacketWriter(buffer, payloadType: 111, sequenceNumber: 1, timestamp: 960, ssrc: 1234);
/// w.AddExtension(1, "0"u8);
/// w.SetPayload(opus);
/// var length = w.Length;
/// </code>
/// The extension form is one-byte unless <c>twoByteExtensions</c> is set. Writes past the buffer throw
/// <see cref="ArgumentException"/>: the writer is for packets Ferry generates, whose sizes it controls.
/// </summary>
public ref struct RtpPacketWriter
{
    private readonly Span<byte> _buffer;
    private readonly bool _twoByte;
    private int _extensionStart = -1;
    private int _extensionDataEnd;
    private int _position;

    /// <summary>Starts a packet with the fixed header.</summary>
    public RtpPacketWriter(Span<byte> buffer, byte payloadType, ushort sequenceNumber, uint timestamp, uint ssrc, bool marker = false, bool twoByteExtensions = false)
    {
        if (buffer.Length < RtpPacket.FixedHeaderLength) throw new ArgumentException("buffer too small for an RTP header");
        _buffer = buffer;
        _twoByte = twoByteExtensions;
        buffer[0] = 0x80;
        buffer[1] = (byte)((marker ? 0x80 : 0) | (payloadType & 0x7F));
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], sequenceNumber);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[8..], ssrc);
        _position = RtpPacket.FixedHeaderLength;
    }

    /// <summary>Bytes written so far.</summary>
    public readonly int Length => _position;

    /// <summary>Adds a CSRC; only before any extension or payload.</summary>
    public void AddCsrc(uint csrc)
    {
        if (_extensionStart >= 0 || _position != RtpPacket.FixedHeaderLength + 4 * (_buffer[0] & 0x0F))
            throw new InvalidOperationException("CSRCs go before extensions and payload");
        if ((_buffer[0] & 0x0F) == 15) throw new InvalidOperationException("at most 15 CSRCs");
        BinaryPrimitives.WriteUInt32BigEndian(Room(4), csrc);
        _buffer[0]++;
        _position += 4;
    }

    /// <summary>Adds an extension element.</summary>
    public void AddExtension(int id, scoped ReadOnlySpan<byte> value)
    {
        if (_twoByte ? id is < 1 or > 255 || value.Length > 255 : id is < 1 or > 14 || value.Length is < 1 or > 16)
            throw new ArgumentException($"extension id {id} with {value.Length} bytes does not fit the {(_twoByte ? "two" : "one")}-byte form");
        if (_extensionStart < 0)
        {
            _extensionStart = _position;
            BinaryPrimitives.WriteUInt16BigEndian(Room(4), _twoByte ? (ushort)0x1000 : (ushort)0xBEDE);
            _position += 4;
            _extensionDataEnd = _position;
            _buffer[0] |= 0x10;
        }
        else
        {
            _position = _extensionDataEnd;
        }
        var header = _twoByte ? 2 : 1;
        var room = Room(header + value.Length);
        if (_twoByte) { room[0] = (byte)id; room[1] = (byte)value.Length; }
        else room[0] = (byte)((id << 4) | (value.Length - 1));
        value.CopyTo(room[header..]);
        _position += header + value.Length;
        _extensionDataEnd = _position;
        // Keep the length field current so the packet is valid after every call.
        FinishExtension();
    }

    /// <summary>Appends the payload (after padding the extension block to 32 bits) and returns the packet length.</summary>
    public int SetPayload(ReadOnlySpan<byte> payload)
    {
        payload.CopyTo(Room(payload.Length));
        _position += payload.Length;
        return _position;
    }

    /// <summary>Appends RTP padding of <paramref name="count"/> bytes (1-255), the last holding the count.</summary>
    public int AddPadding(int count)
    {
        if (count is < 1 or > 255) throw new ArgumentOutOfRangeException(nameof(count));
        var room = Room(count);
        room[..(count - 1)].Clear();
        room[count - 1] = (byte)count;
        _position += count;
        _buffer[0] |= 0x20;
        return _position;
    }

    private void FinishExtension()
    {
        var dataLength = _position - _extensionStart - 4;
        var padded = (dataLength + 3) & ~3;
        Room(padded - dataLength).Clear();
        _position = _extensionStart + 4 + padded;
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[(_extensionStart + 2)..], (ushort)(padded / 4));
    }

    private readonly Span<byte> Room(int count)
    {
        if (_position + count > _buffer.Length) throw new ArgumentException("buffer too small for the RTP packet");
        return _buffer.Slice(_position, count);
    }
}
