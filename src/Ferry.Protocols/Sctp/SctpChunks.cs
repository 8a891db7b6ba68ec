using System.Buffers.Binary;

namespace Ferry.Protocols.Sctp;

/// <summary>Chunk types used by WebRTC data channels (RFC 9260 §3.2, RFC 3758 §3.2, RFC 6525 §3.1).</summary>
public static class SctpChunkType
{
    /// <summary>Payload data.</summary>
    public const byte Data = 0;
    /// <summary>Initiation.</summary>
    public const byte Init = 1;
    /// <summary>Initiation acknowledgement.</summary>
    public const byte InitAck = 2;
    /// <summary>Selective acknowledgement.</summary>
    public const byte Sack = 3;
    /// <summary>Heartbeat request.</summary>
    public const byte Heartbeat = 4;
    /// <summary>Heartbeat acknowledgement.</summary>
    public const byte HeartbeatAck = 5;
    /// <summary>Abort.</summary>
    public const byte Abort = 6;
    /// <summary>Shutdown.</summary>
    public const byte Shutdown = 7;
    /// <summary>Shutdown acknowledgement.</summary>
    public const byte ShutdownAck = 8;
    /// <summary>Operation error.</summary>
    public const byte Error = 9;
    /// <summary>State cookie.</summary>
    public const byte CookieEcho = 10;
    /// <summary>Cookie acknowledgement.</summary>
    public const byte CookieAck = 11;
    /// <summary>Shutdown complete.</summary>
    public const byte ShutdownComplete = 14;
    /// <summary>Stream re-configuration (RFC 6525).</summary>
    public const byte ReConfig = 130;
    /// <summary>Forward cumulative TSN (RFC 3758).</summary>
    public const byte ForwardTsn = 192;
}

/// <summary>Parameter and error-cause codes Ferry reads or writes.</summary>
internal static class SctpParameter
{
    public const ushort HeartbeatInfo = 1;
    public const ushort StateCookie = 7;
    public const ushort UnrecognizedParameter = 8;
    public const ushort SupportedExtensions = 0x8008;
    public const ushort ForwardTsnSupported = 0xC000;
    // RFC 6525 §4.
    public const ushort OutgoingSsnResetRequest = 13;
    public const ushort IncomingSsnResetRequest = 14;
    public const ushort SsnTsnResetRequest = 15;
    public const ushort ReconfigurationResponse = 16;
    public const ushort AddOutgoingStreamsRequest = 17;
    public const ushort AddIncomingStreamsRequest = 18;
}

/// <summary>Error causes (RFC 9260 §3.3.10).</summary>
internal static class SctpCause
{
    public const ushort InvalidStreamIdentifier = 1;
    public const ushort StaleCookie = 3;
    public const ushort UnrecognizedChunkType = 6;
    public const ushort InvalidMandatoryParameter = 7;
    public const ushort NoUserData = 9;
    public const ushort UserInitiatedAbort = 12;
    public const ushort ProtocolViolation = 13;

    public static string Describe(ushort cause) => cause switch
    {
        1 => "invalid stream identifier",
        2 => "missing mandatory parameter",
        3 => "stale cookie",
        4 => "out of resource",
        5 => "unresolvable address",
        6 => "unrecognized chunk type",
        7 => "invalid mandatory parameter",
        8 => "unrecognized parameters",
        9 => "no user data",
        10 => "cookie received while shutting down",
        11 => "restart with new addresses",
        12 => "user-initiated abort",
        13 => "protocol violation",
        _ => $"cause {cause}",
    };
}

/// <summary>RE-CONFIG response results (RFC 6525 §4.4).</summary>
internal enum ReconfigResult : uint
{
    SuccessNothingToDo = 0,
    SuccessPerformed = 1,
    Denied = 2,
    ErrorWrongSsn = 3,
    ErrorRequestAlreadyInProgress = 4,
    ErrorBadSequenceNumber = 5,
    InProgress = 6,
}

/// <summary>
/// A DATA chunk's value (RFC 9260 §3.3.1); flags U (unordered), B (first fragment), E (last fragment), I (immediate SACK, RFC 7053).
/// <code>
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Type = 0    |  Res  |I|U|B|E|           Length              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                              TSN                              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Stream Identifier S      |   Stream Sequence Number n    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Payload Protocol Identifier                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// \                 User Data (seq n of Stream S)                 /
/// </code>
/// </summary>
internal readonly ref struct DataChunk
{
    public const int HeaderSize = 12;
    public const byte FlagEnd = 1;
    public const byte FlagBeginning = 2;
    public const byte FlagUnordered = 4;
    public const byte FlagImmediate = 8;

    public readonly uint Tsn;
    public readonly ushort StreamId;
    public readonly ushort Ssn;
    public readonly uint Ppid;
    public readonly byte Flags;
    public readonly ReadOnlySpan<byte> Payload;

    private DataChunk(byte flags, ReadOnlySpan<byte> value)
    {
        Flags = flags;
        Tsn = BinaryPrimitives.ReadUInt32BigEndian(value);
        StreamId = BinaryPrimitives.ReadUInt16BigEndian(value[4..]);
        Ssn = BinaryPrimitives.ReadUInt16BigEndian(value[6..]);
        Ppid = BinaryPrimitives.ReadUInt32BigEndian(value[8..]);
        Payload = value[HeaderSize..];
    }

    public bool Beginning => (Flags & FlagBeginning) != 0;
    public bool Ending => (Flags & FlagEnd) != 0;
    public bool Unordered => (Flags & FlagUnordered) != 0;

    public static bool TryParse(in SctpChunk chunk, out DataChunk data)
    {
        data = default;
        if (chunk.Value.Length < HeaderSize) return false;
        data = new DataChunk(chunk.Flags, chunk.Value);
        return true;
    }

    public static void WriteHeader(Span<byte> value, uint tsn, ushort streamId, ushort ssn, uint ppid)
    {
        BinaryPrimitives.WriteUInt32BigEndian(value, tsn);
        BinaryPrimitives.WriteUInt16BigEndian(value[4..], streamId);
        BinaryPrimitives.WriteUInt16BigEndian(value[6..], ssn);
        BinaryPrimitives.WriteUInt32BigEndian(value[8..], ppid);
    }
}

/// <summary>
/// The fixed part of INIT and INIT-ACK (RFC 9260 §3.3.2, §3.3.3), followed by parameters.
/// <code>
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Initiate Tag                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Advertised Receiver Window Credit (a_rwnd)           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Number of Outbound Streams   |   Number of Inbound Streams   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Initial TSN                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// \              Optional/Variable-Length Parameters              /
/// </code>
/// </summary>
internal readonly ref struct InitChunk
{
    public const int FixedSize = 16;

    public readonly uint InitiateTag;
    public readonly uint ARwnd;
    public readonly ushort OutboundStreams;
    public readonly ushort InboundStreams;
    public readonly uint InitialTsn;
    public readonly ReadOnlySpan<byte> Parameters;

    private InitChunk(ReadOnlySpan<byte> value)
    {
        InitiateTag = BinaryPrimitives.ReadUInt32BigEndian(value);
        ARwnd = BinaryPrimitives.ReadUInt32BigEndian(value[4..]);
        OutboundStreams = BinaryPrimitives.ReadUInt16BigEndian(value[8..]);
        InboundStreams = BinaryPrimitives.ReadUInt16BigEndian(value[10..]);
        InitialTsn = BinaryPrimitives.ReadUInt32BigEndian(value[12..]);
        Parameters = value[FixedSize..];
    }

    /// <summary>False for a short chunk or values RFC 9260 §3.3.2 forbids (tag 0, no streams).</summary>
    public static bool TryParse(ReadOnlySpan<byte> value, out InitChunk init)
    {
        init = default;
        if (value.Length < FixedSize) return false;
        init = new InitChunk(value);
        return init.InitiateTag != 0 && init.OutboundStreams != 0 && init.InboundStreams != 0;
    }

    public static void WriteFixed(Span<byte> value, uint tag, uint aRwnd, ushort outbound, ushort inbound, uint initialTsn)
    {
        BinaryPrimitives.WriteUInt32BigEndian(value, tag);
        BinaryPrimitives.WriteUInt32BigEndian(value[4..], aRwnd);
        BinaryPrimitives.WriteUInt16BigEndian(value[8..], outbound);
        BinaryPrimitives.WriteUInt16BigEndian(value[10..], inbound);
        BinaryPrimitives.WriteUInt32BigEndian(value[12..], initialTsn);
    }
}

/// <summary>
/// A SACK chunk's value (RFC 9260 §3.3.4): gap blocks are offsets from the cumulative TSN.
/// <code>
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Cumulative TSN Ack                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Advertised Receiver Window Credit (a_rwnd)           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Number of Gap Ack Blocks = N  |  Number of Duplicate TSNs = M |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |    Gap Ack Block #1 Start     |     Gap Ack Block #1 End      |
/// /                              ...                              /
/// |                        Duplicate TSN 1                        |
/// /                              ...                              /
/// </code>
/// </summary>
internal readonly ref struct SackChunk
{
    public const int FixedSize = 12;

    public readonly uint CumulativeTsnAck;
    public readonly uint ARwnd;
    public readonly int GapBlockCount;
    public readonly int DuplicateCount;
    private readonly ReadOnlySpan<byte> _value;

    private SackChunk(ReadOnlySpan<byte> value, int gaps, int dups)
    {
        _value = value;
        CumulativeTsnAck = BinaryPrimitives.ReadUInt32BigEndian(value);
        ARwnd = BinaryPrimitives.ReadUInt32BigEndian(value[4..]);
        GapBlockCount = gaps;
        DuplicateCount = dups;
    }

    public static bool TryParse(ReadOnlySpan<byte> value, out SackChunk sack)
    {
        sack = default;
        if (value.Length < FixedSize) return false;
        int gaps = BinaryPrimitives.ReadUInt16BigEndian(value[8..]);
        int dups = BinaryPrimitives.ReadUInt16BigEndian(value[10..]);
        if (FixedSize + 4 * gaps + 4 * dups > value.Length) return false;
        sack = new SackChunk(value, gaps, dups);
        return true;
    }

    public (ushort Start, ushort End) GapBlock(int index)
    {
        var at = FixedSize + 4 * index;
        return (BinaryPrimitives.ReadUInt16BigEndian(_value[at..]), BinaryPrimitives.ReadUInt16BigEndian(_value[(at + 2)..]));
    }

    public uint Duplicate(int index) => BinaryPrimitives.ReadUInt32BigEndian(_value[(FixedSize + 4 * GapBlockCount + 4 * index)..]);
}

/// <summary>
/// A FORWARD-TSN chunk's value (RFC 3758 §3.2): the new cumulative TSN, then the highest skipped
/// stream sequence number of each ordered stream involved.
/// <code>
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      New Cumulative TSN                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Stream-1              |       Stream Sequence-1       |
/// /                              ...                              /
/// </code>
/// </summary>
internal readonly ref struct ForwardTsnChunk
{
    public readonly uint NewCumulativeTsn;
    public readonly int StreamCount;
    private readonly ReadOnlySpan<byte> _value;

    private ForwardTsnChunk(ReadOnlySpan<byte> value)
    {
        _value = value;
        NewCumulativeTsn = BinaryPrimitives.ReadUInt32BigEndian(value);
        StreamCount = (value.Length - 4) / 4;
    }

    public static bool TryParse(ReadOnlySpan<byte> value, out ForwardTsnChunk chunk)
    {
        chunk = default;
        if (value.Length < 4 || (value.Length - 4) % 4 != 0) return false;
        chunk = new ForwardTsnChunk(value);
        return true;
    }

    public (ushort Stream, ushort Ssn) Entry(int index)
    {
        var at = 4 + 4 * index;
        return (BinaryPrimitives.ReadUInt16BigEndian(_value[at..]), BinaryPrimitives.ReadUInt16BigEndian(_value[(at + 2)..]));
    }
}

/// <summary>Serial number arithmetic for 32-bit TSNs and 16-bit SSNs (RFC 1982, as RFC 9260 §1.6 uses it).</summary>
internal static class Serial
{
    public static bool Less(uint a, uint b) => a != b && (int)(a - b) < 0;
    public static bool LessOrEqual(uint a, uint b) => (int)(a - b) <= 0;
    public static bool Greater(uint a, uint b) => Less(b, a);
    public static bool Less(ushort a, ushort b) => a != b && (short)(a - b) < 0;
    public static bool LessOrEqual(ushort a, ushort b) => (short)(ushort)(a - b) <= 0;
}
