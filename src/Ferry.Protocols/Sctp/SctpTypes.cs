using System.Buffers;

namespace Ferry.Protocols.Sctp;

/// <summary>Association states (RFC 9260 §4), with <see cref="Closed"/> both before the start and after the end.</summary>
public enum SctpState : byte
{
    /// <summary>No association: not started yet (passive: waiting for an INIT), or finished.</summary>
    Closed,
    /// <summary>INIT sent, waiting for INIT-ACK.</summary>
    CookieWait,
    /// <summary>COOKIE-ECHO sent, waiting for COOKIE-ACK.</summary>
    CookieEchoed,
    /// <summary>Data flows both ways.</summary>
    Established,
    /// <summary>Shutdown asked locally; outstanding data is still being delivered.</summary>
    ShutdownPending,
    /// <summary>SHUTDOWN sent.</summary>
    ShutdownSent,
    /// <summary>SHUTDOWN received; our outstanding data is still being delivered.</summary>
    ShutdownReceived,
    /// <summary>SHUTDOWN-ACK sent.</summary>
    ShutdownAckSent,
}

/// <summary>Kinds of <see cref="SctpEvent"/>.</summary>
public enum SctpEventKind : byte
{
    /// <summary>The association is established.</summary>
    Connected,
    /// <summary>The association ended gracefully (SHUTDOWN) or was aborted locally.</summary>
    Closed,
    /// <summary>The peer sent ABORT; <see cref="SctpEvent.Reason"/> names its cause.</summary>
    Aborted,
    /// <summary>The peer stopped answering (handshake or retransmission limit); <see cref="SctpEvent.Reason"/> says which.</summary>
    Failed,
    /// <summary>The peer reset these incoming streams (RFC 6525): their next message starts at SSN 0 (a data channel closing).</summary>
    IncomingStreamsReset,
    /// <summary>Our reset of these outgoing streams completed; they may be used again from SSN 0.</summary>
    OutgoingStreamsReset,
    /// <summary>The peer refused to reset these outgoing streams; they keep their sequence numbers.</summary>
    OutgoingStreamsResetFailed,
}

/// <summary>Something an <see cref="SctpAssociation"/> reports, polled with <see cref="SctpAssociation.TryPollEvent"/>.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Reason">Why, for Aborted, Failed and Closed.</param>
/// <param name="Streams">The streams, for the reset events (empty means every stream).</param>
public sealed record SctpEvent(SctpEventKind Kind, string? Reason = null, ushort[]? Streams = null);

/// <summary>Outcome of <see cref="SctpAssociation.Send"/>.</summary>
public enum SctpSendResult : byte
{
    /// <summary>Queued; it goes out as the congestion and receive windows allow.</summary>
    Ok,
    /// <summary>Larger than the maximum message size.</summary>
    MessageTooLarge,
    /// <summary>The send buffer cannot take it now (bytes queued and unacknowledged reached the limit).</summary>
    BufferFull,
    /// <summary>The stream id is not below the number of outgoing streams.</summary>
    InvalidStream,
    /// <summary>The association is closed or shutting down.</summary>
    Closed,
    /// <summary>An empty message: SCTP cannot carry one (WebRTC sends one byte with PPID 56/57 instead).</summary>
    Empty,
}

/// <summary>How one message is sent.</summary>
/// <param name="Unordered">Delivered as soon as it is complete, not in stream order.</param>
/// <param name="MaxRetransmits">Partial reliability (RFC 3758 "limited retransmissions"): abandoned after this many retransmissions; null for reliable.</param>
/// <param name="Lifetime">Partial reliability (RFC 3758 "timed reliability"): abandoned when not acknowledged this long after it was queued; null for reliable.</param>
public readonly record struct SctpSendOptions(bool Unordered = false, int? MaxRetransmits = null, TimeSpan? Lifetime = null);

/// <summary>
/// A message delivered by the association. Its bytes live in a buffer rented from
/// <see cref="ArrayPool{T}.Shared"/>: call <see cref="Release"/> exactly once when done with them.
/// </summary>
public readonly struct SctpMessage
{
    private readonly byte[]? _buffer;

    internal SctpMessage(ushort streamId, uint ppid, bool unordered, byte[]? buffer, int length)
    {
        StreamId = streamId;
        Ppid = ppid;
        Unordered = unordered;
        _buffer = buffer;
        Length = length;
    }

    /// <summary>The stream it arrived on.</summary>
    public ushort StreamId { get; }

    /// <summary>Payload protocol identifier (WebRTC: 50 DCEP, 51 string, 53 binary, 56/57 empty).</summary>
    public uint Ppid { get; }

    /// <summary>It was sent unordered.</summary>
    public bool Unordered { get; }

    /// <summary>Number of bytes.</summary>
    public int Length { get; }

    /// <summary>The bytes; valid until <see cref="Release"/>.</summary>
    public ReadOnlySpan<byte> Data => _buffer is null ? ReadOnlySpan<byte>.Empty : _buffer.AsSpan(0, Length);

    /// <summary>Returns the buffer to the pool.</summary>
    public void Release()
    {
        if (_buffer is not null) ArrayPool<byte>.Shared.Return(_buffer);
    }
}

/// <summary>Options of an <see cref="SctpAssociation"/>; the defaults are RFC 9260's and mediasoup's.</summary>
public sealed record SctpOptions
{
    /// <summary>Our port (RFC 8841: 5000 for WebRTC data channels unless signalled otherwise).</summary>
    public ushort LocalPort { get; init; } = 5000;

    /// <summary>The peer's port.</summary>
    public ushort RemotePort { get; init; } = 5000;

    /// <summary>Outgoing streams we ask for (mediasoup's OS, 1024 by default).</summary>
    public ushort OutboundStreams { get; init; } = 1024;

    /// <summary>Incoming streams we accept (mediasoup's MIS, 1024 by default).</summary>
    public ushort MaxInboundStreams { get; init; } = 1024;

    /// <summary>Largest message sent or accepted (mediasoup's maxSctpMessageSize, 262144 by default).</summary>
    public int MaxMessageSize { get; init; } = 262_144;

    /// <summary>Largest number of bytes queued or unacknowledged (mediasoup's sctpSendBufferSize, 262144 by default).</summary>
    public int SendBufferSize { get; init; } = 262_144;

    /// <summary>Receive window advertised (a_rwnd): bytes we hold for reassembly and reordering. At least the max message size plus some packets.</summary>
    public int ReceiveWindow { get; init; } = 1 << 20;

    /// <summary>Largest SCTP packet (mediasoup's 1200: fits with DTLS and IPv6 in common path MTUs).</summary>
    public int Mtu { get; init; } = 1200;

    /// <summary>RTO.Initial (RFC 9260 §16: 1 s).</summary>
    public TimeSpan RtoInitial { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// RTO.Min. RFC 9260 §16 says 1 s for the Internet at large; WebRTC's stacks run lower (the peer
    /// is one ICE path away and retransmission delay is user-visible), so 200 ms here. The measured
    /// RTT keeps RTO above the real round trip either way.
    /// </summary>
    public TimeSpan RtoMin { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>RTO.Max (RFC 9260 §16: 60 s).</summary>
    public TimeSpan RtoMax { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Max.Init.Retransmits (RFC 9260 §16: 8).</summary>
    public int MaxInitRetransmits { get; init; } = 8;

    /// <summary>Association.Max.Retrans (RFC 9260 §16: 10): consecutive timeouts before the peer is declared unreachable.</summary>
    public int MaxAssociationRetransmits { get; init; } = 10;

    /// <summary>Delayed acknowledgement (RFC 9260 §6.2: at most 500 ms, 200 ms recommended).</summary>
    public TimeSpan DelayedAck { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Valid.Cookie.Life (RFC 9260 §16: 60 s).</summary>
    public TimeSpan CookieLifetime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Source of tags, initial TSNs and the cookie secret; a seeded one makes simulations replay. Null: a cryptographic generator.</summary>
    public Random? Random { get; init; }
}

/// <summary>What an association counted (for stats and for tests of bad input).</summary>
public sealed class SctpCounters
{
    /// <summary>Packets handed to the association.</summary>
    public long PacketsReceived { get; internal set; }
    /// <summary>Packets produced.</summary>
    public long PacketsSent { get; internal set; }
    /// <summary>Packets dropped: shorter than a header, or a chunk header running past the end.</summary>
    public long MalformedPackets { get; internal set; }
    /// <summary>Packets dropped for a wrong CRC-32C.</summary>
    public long ChecksumErrors { get; internal set; }
    /// <summary>Packets dropped for a wrong verification tag or port.</summary>
    public long VerificationTagErrors { get; internal set; }
    /// <summary>Chunks dropped: malformed value, unknown type, or not expected in the current state.</summary>
    public long ChunksDropped { get; internal set; }
    /// <summary>DATA chunks received (duplicates included).</summary>
    public long DataChunksReceived { get; internal set; }
    /// <summary>DATA chunks received twice.</summary>
    public long DuplicateChunks { get; internal set; }
    /// <summary>DATA chunks for a stream beyond the negotiated count (answered with an ERROR).</summary>
    public long InvalidStreamChunks { get; internal set; }
    /// <summary>DATA chunks dropped because the receive window was full or the TSN too far ahead.</summary>
    public long ReceiveWindowDrops { get; internal set; }
    /// <summary>Reassembled messages larger than the maximum message size, discarded.</summary>
    public long OversizedMessages { get; internal set; }
    /// <summary>Messages delivered.</summary>
    public long MessagesReceived { get; internal set; }
    /// <summary>Messages queued by the application.</summary>
    public long MessagesSent { get; internal set; }
    /// <summary>DATA chunks sent for the first time.</summary>
    public long DataChunksSent { get; internal set; }
    /// <summary>DATA chunks retransmitted (after T3-rtx or fast retransmit).</summary>
    public long Retransmissions { get; internal set; }
    /// <summary>Fast retransmit episodes (three miss indications).</summary>
    public long FastRetransmits { get; internal set; }
    /// <summary>T3-rtx expirations.</summary>
    public long T3Expirations { get; internal set; }
    /// <summary>Messages abandoned by partial reliability (RFC 3758).</summary>
    public long MessagesAbandoned { get; internal set; }
    /// <summary>HEARTBEAT chunks answered.</summary>
    public long HeartbeatsAnswered { get; internal set; }
}
