using System.Buffers.Binary;
using System.Text;

namespace Ferry.Protocols.Sctp;

/// <summary>Payload protocol identifiers of WebRTC data channels (RFC 8831 §8, RFC 8832 §8.1).</summary>
public static class DataChannelPpid
{
    /// <summary>DCEP (DATA_CHANNEL_OPEN and DATA_CHANNEL_ACK).</summary>
    public const uint Dcep = 50;
    /// <summary>A UTF-8 string.</summary>
    public const uint String = 51;
    /// <summary>Binary data.</summary>
    public const uint Binary = 53;
    /// <summary>An empty string (sent as one ignored byte, since SCTP cannot carry an empty message).</summary>
    public const uint StringEmpty = 56;
    /// <summary>Empty binary data (one ignored byte).</summary>
    public const uint BinaryEmpty = 57;
    /// <summary>Deprecated: part of a string (RFC 8831 §8: not to be sent; read as a string).</summary>
    public const uint StringPartial = 54;
    /// <summary>Deprecated: part of binary data (read as binary).</summary>
    public const uint BinaryPartial = 52;

    /// <summary>True for the PPIDs that carry a string.</summary>
    public static bool IsString(uint ppid) => ppid is String or StringEmpty or StringPartial;

    /// <summary>True for the PPIDs that stand for an empty message (their one byte is not data).</summary>
    public static bool IsEmpty(uint ppid) => ppid is StringEmpty or BinaryEmpty;
}

/// <summary>Channel types of DATA_CHANNEL_OPEN (RFC 8832 §5.1): the high bit means unordered.</summary>
public enum DataChannelType : byte
{
    /// <summary>Reliable, ordered.</summary>
    Reliable = 0x00,
    /// <summary>Limited retransmissions, ordered; the reliability parameter is the count.</summary>
    PartialReliableRexmit = 0x01,
    /// <summary>Limited lifetime, ordered; the reliability parameter is milliseconds.</summary>
    PartialReliableTimed = 0x02,
    /// <summary>Reliable, unordered.</summary>
    ReliableUnordered = 0x80,
    /// <summary>Limited retransmissions, unordered.</summary>
    PartialReliableRexmitUnordered = 0x81,
    /// <summary>Limited lifetime, unordered.</summary>
    PartialReliableTimedUnordered = 0x82,
}

/// <summary>
/// A DATA_CHANNEL_OPEN message (RFC 8832 §5.1).
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Message Type |  Channel Type |            Priority           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Reliability Parameter                      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Label Length          |       Protocol Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// \                             Label                             /
/// \                            Protocol                           /
/// </code>
/// </summary>
/// <param name="ChannelType">Reliability and ordering.</param>
/// <param name="Priority">Priority (256 normal).</param>
/// <param name="ReliabilityParameter">Retransmissions or lifetime in ms; 0 for reliable channels.</param>
/// <param name="Label">Label (UTF-8).</param>
/// <param name="Protocol">Sub-protocol (UTF-8).</param>
public sealed record DcepOpen(DataChannelType ChannelType, ushort Priority, uint ReliabilityParameter, string Label, string Protocol)
{
    /// <summary>DCEP message type of DATA_CHANNEL_OPEN.</summary>
    public const byte MessageType = 0x03;
    /// <summary>DCEP message type of DATA_CHANNEL_ACK.</summary>
    public const byte AckMessageType = 0x02;

    /// <summary>Ordered delivery.</summary>
    public bool Ordered => ((byte)ChannelType & 0x80) == 0;

    /// <summary>The SCTP send options the channel type and reliability parameter mean.</summary>
    public SctpSendOptions SendOptions => ((byte)ChannelType & 0x7F) switch
    {
        0x01 => new SctpSendOptions(!Ordered, MaxRetransmits: (int)Math.Min(ReliabilityParameter, int.MaxValue)),
        0x02 => new SctpSendOptions(!Ordered, Lifetime: TimeSpan.FromMilliseconds(ReliabilityParameter)),
        _ => new SctpSendOptions(!Ordered),
    };

    /// <summary>Parses an OPEN message; false for anything else, a truncated message, lengths that do not add up, an unknown channel type or labels that are not UTF-8.</summary>
    public static bool TryParse(ReadOnlySpan<byte> message, out DcepOpen open)
    {
        open = null!;
        if (message.Length < 12 || message[0] != MessageType) return false;
        var type = message[1];
        if (type is not (0x00 or 0x01 or 0x02 or 0x80 or 0x81 or 0x82)) return false;
        int labelLength = BinaryPrimitives.ReadUInt16BigEndian(message[8..]);
        int protocolLength = BinaryPrimitives.ReadUInt16BigEndian(message[10..]);
        if (message.Length != 12 + labelLength + protocolLength) return false;
        var utf8 = new UTF8Encoding(false, throwOnInvalidBytes: true);
        string label, protocol;
        try
        {
            label = utf8.GetString(message.Slice(12, labelLength));
            protocol = utf8.GetString(message.Slice(12 + labelLength, protocolLength));
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
        open = new DcepOpen((DataChannelType)type, BinaryPrimitives.ReadUInt16BigEndian(message[2..]), BinaryPrimitives.ReadUInt32BigEndian(message[4..]), label, protocol);
        return true;
    }

    /// <summary>The message's bytes.</summary>
    public byte[] ToBytes()
    {
        var label = Encoding.UTF8.GetBytes(Label);
        var protocol = Encoding.UTF8.GetBytes(Protocol);
        if (label.Length > ushort.MaxValue || protocol.Length > ushort.MaxValue) throw new ArgumentException("label or protocol longer than 65535 bytes");
        var bytes = new byte[12 + label.Length + protocol.Length];
        bytes[0] = MessageType;
        bytes[1] = (byte)ChannelType;
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), Priority);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), ReliabilityParameter);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(8), (ushort)label.Length);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(10), (ushort)protocol.Length);
        label.CopyTo(bytes, 12);
        protocol.CopyTo(bytes, 12 + label.Length);
        return bytes;
    }

    /// <summary>The channel type for an ordering and reliability choice.</summary>
    public static (DataChannelType Type, uint Parameter) TypeFor(bool ordered, int? maxRetransmits, int? maxPacketLifeTime)
    {
        var unordered = ordered ? 0 : 0x80;
        if (maxRetransmits is { } r) return ((DataChannelType)(0x01 | unordered), (uint)Math.Max(0, r));
        if (maxPacketLifeTime is { } t) return ((DataChannelType)(0x02 | unordered), (uint)Math.Max(0, t));
        return ((DataChannelType)unordered, 0);
    }
}
