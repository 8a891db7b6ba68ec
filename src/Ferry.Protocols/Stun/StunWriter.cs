using System.Buffers.Binary;
using System.Text;

namespace Ferry.Protocols.Stun;

/// <summary>
/// Builds a STUN message into a caller's buffer: header, attributes in order, then optionally
/// MESSAGE-INTEGRITY and FINGERPRINT, which must come last (RFC 8489 §14.5, §14.7). Throws
/// <see cref="ArgumentException"/> when the buffer is too small: Ferry sizes its own messages.
/// </summary>
public ref struct StunWriter
{
    private readonly Span<byte> _buffer;
    private int _length;

    /// <summary>Starts a message of <paramref name="method"/> and <paramref name="cls"/> with a 12-byte transaction id.</summary>
    public StunWriter(Span<byte> buffer, ushort method, StunClass cls, ReadOnlySpan<byte> transactionId)
    {
        if (buffer.Length < StunConstants.HeaderLength) throw new ArgumentException("buffer too small for a STUN header");
        if (transactionId.Length != 12) throw new ArgumentException("transaction id must be 12 bytes");
        _buffer = buffer;
        BinaryPrimitives.WriteUInt16BigEndian(buffer, StunConstants.MessageType(method, cls));
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], StunConstants.MagicCookie);
        transactionId.CopyTo(buffer[8..]);
        _length = StunConstants.HeaderLength;
        SetLength();
    }

    /// <summary>Bytes written.</summary>
    public readonly int Length => _length;

    /// <summary>The message so far.</summary>
    public readonly ReadOnlySpan<byte> Written => _buffer[.._length];

    /// <summary>Adds an attribute (padded with zeros to 4 bytes).</summary>
    public void Add(ushort type, scoped ReadOnlySpan<byte> value)
    {
        var padded = (value.Length + 3) & ~3;
        if (_length + 4 + padded > _buffer.Length) throw new ArgumentException("buffer too small for the STUN message");
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[_length..], type);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[(_length + 2)..], (ushort)value.Length);
        value.CopyTo(_buffer[(_length + 4)..]);
        _buffer.Slice(_length + 4 + value.Length, padded - value.Length).Clear();
        _length += 4 + padded;
        SetLength();
    }

    /// <summary>Adds a 32-bit attribute.</summary>
    public void AddUInt32(ushort type, uint value)
    {
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(v, value);
        Add(type, v);
    }

    /// <summary>Adds a 64-bit attribute.</summary>
    public void AddUInt64(ushort type, ulong value)
    {
        Span<byte> v = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(v, value);
        Add(type, v);
    }

    /// <summary>Adds a UTF-8 text attribute (USERNAME, SOFTWARE).</summary>
    public void AddString(ushort type, string text)
    {
        Span<byte> v = stackalloc byte[Encoding.UTF8.GetMaxByteCount(text.Length)];
        Add(type, v[..Encoding.UTF8.GetBytes(text, v)]);
    }

    /// <summary>Adds XOR-MAPPED-ADDRESS for 16 address bytes (IPv4-mapped when <paramref name="ipv4"/>).</summary>
    public void AddXorMappedAddress(scoped ReadOnlySpan<byte> address16, int port, bool ipv4)
    {
        Span<byte> v = stackalloc byte[20];
        v[0] = 0;
        v[1] = ipv4 ? (byte)0x01 : (byte)0x02;
        BinaryPrimitives.WriteUInt16BigEndian(v[2..], (ushort)(port ^ (int)(StunConstants.MagicCookie >> 16)));
        if (ipv4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(v[4..], BinaryPrimitives.ReadUInt32BigEndian(address16[12..]) ^ StunConstants.MagicCookie);
            Add(StunAttributeType.XorMappedAddress, v[..8]);
            return;
        }
        Span<byte> mask = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(mask, StunConstants.MagicCookie);
        _buffer.Slice(8, 12).CopyTo(mask[4..]);
        for (var i = 0; i < 16; i++) v[4 + i] = (byte)(address16[i] ^ mask[i]);
        Add(StunAttributeType.XorMappedAddress, v);
    }

    /// <summary>Adds ERROR-CODE (RFC 8489 §14.8).</summary>
    public void AddErrorCode(int code, string reason)
    {
        Span<byte> v = stackalloc byte[4 + Encoding.UTF8.GetMaxByteCount(reason.Length)];
        v[..2].Clear();
        v[2] = (byte)(code / 100);
        v[3] = (byte)(code % 100);
        var n = Encoding.UTF8.GetBytes(reason, v[4..]);
        Add(StunAttributeType.ErrorCode, v[..(4 + n)]);
    }

    /// <summary>Adds MESSAGE-INTEGRITY computed with <paramref name="key"/> over everything before it.</summary>
    public void AddMessageIntegrity(scoped ReadOnlySpan<byte> key)
    {
        var offset = _length;
        Add(StunAttributeType.MessageIntegrity, stackalloc byte[20]);
        StunMessage.ComputeIntegrity(_buffer[.._length], offset, key, _buffer.Slice(offset + 4, 20));
    }

    /// <summary>Adds FINGERPRINT; call last.</summary>
    public int AddFingerprint()
    {
        var offset = _length;
        Add(StunAttributeType.Fingerprint, stackalloc byte[4]);
        BinaryPrimitives.WriteUInt32BigEndian(_buffer[(offset + 4)..], StunMessage.ComputeFingerprint(_buffer[.._length], offset));
        return _length;
    }

    private readonly void SetLength() =>
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], (ushort)(_length - StunConstants.HeaderLength));
}
