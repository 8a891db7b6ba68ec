using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Ferry.Protocols.Stun;

/// <summary>
/// A STUN message read in place (RFC 8489 §5-6). TryParse checks the header and that attributes
/// tile the body exactly; typed accessors find attributes by type.
/// <code>
///  0                   1                   2                   3
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |0 0|     STUN Message Type     |         Message Length        |
/// |                         Magic Cookie                          |
/// |                     Transaction ID (96 bits)                  |
/// |  Type  |  Length  |  Value (padded to 4 bytes) ...            |  attributes
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// </summary>
public readonly ref struct StunMessage
{
    private readonly ReadOnlySpan<byte> _data;

    private StunMessage(ReadOnlySpan<byte> data) => _data = data;

    /// <summary>Quick test for the STUN shape: top two bits zero, magic cookie, length a multiple of 4 that fits.</summary>
    public static bool IsStun(ReadOnlySpan<byte> datagram) =>
        datagram.Length >= StunConstants.HeaderLength && (datagram[0] & 0xC0) == 0
        && BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]) == StunConstants.MagicCookie
        && (BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]) & 3) == 0
        && BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]) + StunConstants.HeaderLength == datagram.Length;

    /// <summary>Parses a datagram; false when the header or the attribute layout is malformed.</summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, out StunMessage message)
    {
        message = default;
        if (!IsStun(datagram)) return false;
        var offset = StunConstants.HeaderLength;
        while (offset < datagram.Length)
        {
            if (offset + 4 > datagram.Length) return false;
            var length = BinaryPrimitives.ReadUInt16BigEndian(datagram[(offset + 2)..]);
            offset += 4 + ((length + 3) & ~3);
            if (offset > datagram.Length) return false;
        }
        message = new StunMessage(datagram);
        return true;
    }

    /// <summary>The whole message.</summary>
    public ReadOnlySpan<byte> Data => _data;

    /// <summary>The 14-bit message type.</summary>
    public ushort MessageType => (ushort)(BinaryPrimitives.ReadUInt16BigEndian(_data) & 0x3FFF);

    /// <summary>The method (12 bits).</summary>
    public ushort Method
    {
        get
        {
            var t = MessageType;
            return (ushort)((t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2));
        }
    }

    /// <summary>The class.</summary>
    public StunClass Class => (StunClass)(((MessageType >> 4) & 1) | ((MessageType >> 7) & 2));

    /// <summary>The 12-byte transaction id.</summary>
    public ReadOnlySpan<byte> TransactionId => _data.Slice(8, 12);

    /// <summary>Iterates the attributes.</summary>
    public StunAttributeEnumerator Attributes => new(_data);

    /// <summary>Finds the first attribute of <paramref name="type"/>; <paramref name="offset"/> is where its header starts.</summary>
    public bool TryGetAttribute(ushort type, out ReadOnlySpan<byte> value, out int offset)
    {
        foreach (var a in Attributes)
        {
            if (a.Type == type)
            {
                value = a.Value;
                offset = a.Offset;
                return true;
            }
        }
        value = default;
        offset = -1;
        return false;
    }

    /// <summary>True when an attribute of <paramref name="type"/> is present.</summary>
    public bool Has(ushort type) => TryGetAttribute(type, out _, out _);

    /// <summary>USERNAME as UTF-8 bytes.</summary>
    public bool TryGetUsername(out ReadOnlySpan<byte> username) => TryGetAttribute(StunAttributeType.Username, out username, out _);

    /// <summary>PRIORITY.</summary>
    public bool TryGetPriority(out uint priority) => TryGetUInt32(StunAttributeType.Priority, out priority);

    /// <summary>NOMINATION (24-bit value).</summary>
    public bool TryGetNomination(out uint nomination)
    {
        if (!TryGetUInt32(StunAttributeType.Nomination, out nomination)) return false;
        nomination &= 0x00FFFFFF;
        return true;
    }

    /// <summary>ICE-CONTROLLING tie-breaker.</summary>
    public bool TryGetIceControlling(out ulong tieBreaker) => TryGetUInt64(StunAttributeType.IceControlling, out tieBreaker);

    /// <summary>ICE-CONTROLLED tie-breaker.</summary>
    public bool TryGetIceControlled(out ulong tieBreaker) => TryGetUInt64(StunAttributeType.IceControlled, out tieBreaker);

    /// <summary>ERROR-CODE: class*100 + number, and the reason phrase.</summary>
    public bool TryGetErrorCode(out int code, out string reason)
    {
        code = 0;
        reason = "";
        if (!TryGetAttribute(StunAttributeType.ErrorCode, out var v, out _) || v.Length < 4) return false;
        code = (v[2] & 0x07) * 100 + v[3];
        reason = Encoding.UTF8.GetString(v[4..]);
        return true;
    }

    /// <summary>XOR-MAPPED-ADDRESS: 16 address bytes (IPv4-mapped for IPv4) and the port.</summary>
    public bool TryGetXorMappedAddress(Span<byte> address16, out int port, out bool ipv4)
    {
        port = 0;
        ipv4 = false;
        if (!TryGetAttribute(StunAttributeType.XorMappedAddress, out var v, out _) || v.Length < 8) return false;
        port = BinaryPrimitives.ReadUInt16BigEndian(v[2..]) ^ (int)(StunConstants.MagicCookie >> 16);
        address16.Clear();
        if (v[1] == 0x01)
        {
            ipv4 = true;
            address16[10] = address16[11] = 0xFF;
            BinaryPrimitives.WriteUInt32BigEndian(address16[12..], BinaryPrimitives.ReadUInt32BigEndian(v[4..]) ^ StunConstants.MagicCookie);
            return true;
        }
        if (v[1] != 0x02 || v.Length < 20) return false;
        // IPv6: XOR with the cookie then the transaction id.
        Span<byte> mask = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(mask, StunConstants.MagicCookie);
        TransactionId.CopyTo(mask[4..]);
        for (var i = 0; i < 16; i++) address16[i] = (byte)(v[4 + i] ^ mask[i]);
        return true;
    }

    /// <summary>
    /// Verifies MESSAGE-INTEGRITY with <paramref name="key"/> (RFC 8489 §14.5: HMAC-SHA1 over the message
    /// up to the attribute, with the length field counting through it). False when absent or wrong.
    /// </summary>
    public bool VerifyMessageIntegrity(ReadOnlySpan<byte> key)
    {
        if (!TryGetAttribute(StunAttributeType.MessageIntegrity, out var value, out var offset) || value.Length != 20) return false;
        Span<byte> mac = stackalloc byte[20];
        ComputeIntegrity(_data, offset, key, mac);
        return CryptographicOperations.FixedTimeEquals(mac, value);
    }

    /// <summary>True when FINGERPRINT is present, last, and matches (RFC 8489 §14.7).</summary>
    public bool VerifyFingerprint()
    {
        if (!TryGetAttribute(StunAttributeType.Fingerprint, out var value, out var offset) || value.Length != 4) return false;
        if (offset + 8 != _data.Length) return false;
        return BinaryPrimitives.ReadUInt32BigEndian(value) == ComputeFingerprint(_data, offset);
    }

    internal static void ComputeIntegrity(ReadOnlySpan<byte> message, int attributeOffset, ReadOnlySpan<byte> key, Span<byte> mac)
    {
        // One-shot HMAC over a copy with the adjusted length: an IncrementalHash would allocate per
        // check, and consent checks arrive every few seconds on every transport for as long as it lives.
        byte[]? rented = null;
        var copy = attributeOffset <= 1024 ? stackalloc byte[attributeOffset] : (rented = ArrayPool<byte>.Shared.Rent(attributeOffset)).AsSpan(0, attributeOffset);
        message[..attributeOffset].CopyTo(copy);
        BinaryPrimitives.WriteUInt16BigEndian(copy[2..], (ushort)(attributeOffset + 24 - StunConstants.HeaderLength));
        HMACSHA1.HashData(key, copy, mac);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
    }

    internal static uint ComputeFingerprint(ReadOnlySpan<byte> message, int attributeOffset)
    {
        Span<byte> header = stackalloc byte[4];
        message[..2].CopyTo(header);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(attributeOffset + 8 - StunConstants.HeaderLength));
        var crc = Crc32.Update(0xFFFFFFFFu, header);
        crc = Crc32.Update(crc, message[4..attributeOffset]);
        return ~crc ^ StunConstants.FingerprintXor;
    }

    private bool TryGetUInt32(ushort type, out uint value)
    {
        value = 0;
        if (!TryGetAttribute(type, out var v, out _) || v.Length != 4) return false;
        value = BinaryPrimitives.ReadUInt32BigEndian(v);
        return true;
    }

    private bool TryGetUInt64(ushort type, out ulong value)
    {
        value = 0;
        if (!TryGetAttribute(type, out var v, out _) || v.Length != 8) return false;
        value = BinaryPrimitives.ReadUInt64BigEndian(v);
        return true;
    }
}

/// <summary>One STUN attribute.</summary>
public readonly ref struct StunAttribute
{
    internal StunAttribute(ushort type, ReadOnlySpan<byte> value, int offset)
    {
        Type = type;
        Value = value;
        Offset = offset;
    }

    /// <summary>Attribute type.</summary>
    public ushort Type { get; }
    /// <summary>Value without padding.</summary>
    public ReadOnlySpan<byte> Value { get; }
    /// <summary>Offset of the attribute header in the message.</summary>
    public int Offset { get; }
}

/// <summary>Iterates the attributes of a parsed message.</summary>
public ref struct StunAttributeEnumerator
{
    private readonly ReadOnlySpan<byte> _data;
    private int _next;
    private StunAttribute _current;

    internal StunAttributeEnumerator(ReadOnlySpan<byte> data)
    {
        _data = data;
        _next = StunConstants.HeaderLength;
        _current = default;
    }

    /// <summary>The current attribute.</summary>
    public readonly StunAttribute Current => _current;

    /// <summary>Enables foreach.</summary>
    public readonly StunAttributeEnumerator GetEnumerator() => this;

    /// <summary>Moves to the next attribute.</summary>
    public bool MoveNext()
    {
        if (_next + 4 > _data.Length) return false;
        var type = BinaryPrimitives.ReadUInt16BigEndian(_data[_next..]);
        var length = BinaryPrimitives.ReadUInt16BigEndian(_data[(_next + 2)..]);
        if (_next + 4 + length > _data.Length) return false;
        _current = new StunAttribute(type, _data.Slice(_next + 4, length), _next);
        _next += 4 + ((length + 3) & ~3);
        return true;
    }
}
