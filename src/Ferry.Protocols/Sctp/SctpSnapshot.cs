namespace Ferry.Protocols.Sctp;

// Snapshots of an association and a data channel endpoint (docs/protocols.md, "SCTP snapshots"):
// plain data only (numbers, strings, bools, byte arrays, arrays of such records), so that System.Text.Json
// or any other serialiser can carry them between processes. Nothing refers to an object: the outgoing
// messages are a table, and chunks and queues name a message by its index there. No time is absolute:
// a deadline is stored as what remains of it, an instant in the past as its age, both in 100 ns ticks
// of the exporting side's clock and rebased on the importing side's `now`.

/// <summary>
/// An <see cref="SctpAssociation"/> as plain data (<see cref="SctpAssociation.Export"/>,
/// <see cref="SctpAssociation.Import"/>). Durations are in ticks (100 ns); a deadline is the time that
/// remained until it at export (negative: overdue), null when the timer was not running.
/// </summary>
public sealed record SctpAssociationState
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Format version (<see cref="CurrentVersion"/>).</summary>
    public int Version { get; init; } = CurrentVersion;
    /// <summary>The association's options (without the random source, which only matters before the handshake).</summary>
    public SctpOptionsState Options { get; init; } = new();
    /// <summary>The association state; only <see cref="SctpState.Established"/> is exported.</summary>
    public SctpState State { get; init; }
    /// <summary>Our verification tag.</summary>
    public uint LocalTag { get; init; }
    /// <summary>The peer's verification tag.</summary>
    public uint PeerTag { get; init; }
    /// <summary>Our initial TSN (also the first RE-CONFIG request sequence number).</summary>
    public uint LocalInitialTsn { get; init; }
    /// <summary>The key that signs state cookies (a late duplicate COOKIE-ECHO is still answered after a move).</summary>
    public byte[] CookieSecret { get; init; } = [];
    /// <summary>A COOKIE-ACK is owed to the peer.</summary>
    public bool CookieAckPending { get; init; }
    /// <summary>Outgoing streams usable.</summary>
    public int OutboundStreamCount { get; init; }
    /// <summary>Incoming streams accepted.</summary>
    public int InboundStreamCount { get; init; }
    /// <summary>The peer supports FORWARD-TSN.</summary>
    public bool PeerForwardTsn { get; init; }
    /// <summary>The peer supports RE-CONFIG.</summary>
    public bool PeerReconfig { get; init; }

    /// <summary>The sending half: TSNs, queues, outstanding chunks, congestion and RTO state.</summary>
    public SctpSendState Send { get; init; } = new();
    /// <summary>The receiving half: cumulative TSN, gaps, reassembly, per-stream order.</summary>
    public SctpReceiveState Receive { get; init; } = new();
    /// <summary>Stream reset (RFC 6525) state, both directions.</summary>
    public SctpReconfigState Reconfig { get; init; } = new();

    /// <summary>Whole packets queued to go out (an answer to a retransmitted INIT, an ERROR).</summary>
    public byte[][] RawPackets { get; init; } = [];
    /// <summary>Control chunks queued to go with the next packet (HEARTBEAT-ACK, ERROR, RE-CONFIG responses).</summary>
    public byte[][] ControlChunks { get; init; } = [];
    /// <summary>Events not yet polled.</summary>
    public SctpEventState[] Events { get; init; } = [];
    /// <summary>Messages delivered and not yet polled (already acknowledged to the peer, so they travel too).</summary>
    public SctpMessageState[] Messages { get; init; } = [];
    /// <summary>The counters.</summary>
    public SctpCountersState Counters { get; init; } = new();
}

/// <summary><see cref="SctpOptions"/> as plain data (durations in ticks).</summary>
public sealed record SctpOptionsState
{
    /// <summary><see cref="SctpOptions.LocalPort"/>.</summary>
    public ushort LocalPort { get; init; }
    /// <summary><see cref="SctpOptions.RemotePort"/>.</summary>
    public ushort RemotePort { get; init; }
    /// <summary><see cref="SctpOptions.OutboundStreams"/>.</summary>
    public ushort OutboundStreams { get; init; }
    /// <summary><see cref="SctpOptions.MaxInboundStreams"/>.</summary>
    public ushort MaxInboundStreams { get; init; }
    /// <summary><see cref="SctpOptions.MaxMessageSize"/>.</summary>
    public int MaxMessageSize { get; init; }
    /// <summary><see cref="SctpOptions.SendBufferSize"/>.</summary>
    public int SendBufferSize { get; init; }
    /// <summary><see cref="SctpOptions.ReceiveWindow"/>.</summary>
    public int ReceiveWindow { get; init; }
    /// <summary><see cref="SctpOptions.Mtu"/>.</summary>
    public int Mtu { get; init; }
    /// <summary><see cref="SctpOptions.RtoInitial"/>, ticks.</summary>
    public long RtoInitialTicks { get; init; }
    /// <summary><see cref="SctpOptions.RtoMin"/>, ticks.</summary>
    public long RtoMinTicks { get; init; }
    /// <summary><see cref="SctpOptions.RtoMax"/>, ticks.</summary>
    public long RtoMaxTicks { get; init; }
    /// <summary><see cref="SctpOptions.MaxInitRetransmits"/>.</summary>
    public int MaxInitRetransmits { get; init; }
    /// <summary><see cref="SctpOptions.MaxAssociationRetransmits"/>.</summary>
    public int MaxAssociationRetransmits { get; init; }
    /// <summary><see cref="SctpOptions.DelayedAck"/>, ticks.</summary>
    public long DelayedAckTicks { get; init; }
    /// <summary><see cref="SctpOptions.CookieLifetime"/>, ticks.</summary>
    public long CookieLifetimeTicks { get; init; }
}

/// <summary>The sending half of an association.</summary>
public sealed record SctpSendState
{
    /// <summary>The TSN the next new DATA chunk gets.</summary>
    public uint NextTsn { get; init; }
    /// <summary>Cumulative TSN ack point: everything up to it was acknowledged (or skipped).</summary>
    public uint CumulativeTsnAck { get; init; }
    /// <summary>RFC 3758 advanced peer ack point.</summary>
    public uint AdvancedPeerAckPoint { get; init; }
    /// <summary>Every outgoing message still held: queued, being cut, or with chunks outstanding. Chunks and queues refer to it by index.</summary>
    public SctpOutgoingMessageState[] Messages { get; init; } = [];
    /// <summary>The message being cut into chunks (its fragments need consecutive TSNs), as an index into <see cref="Messages"/>; -1 for none.</summary>
    public int CurrentMessage { get; init; } = -1;
    /// <summary>Chunks with a TSN above the cumulative ack point, in TSN order: outstanding, gap-acknowledged or abandoned.</summary>
    public SctpOutChunkState[] Chunks { get; init; } = [];
    /// <summary>Outgoing streams with state, by id.</summary>
    public SctpOutStreamState[] Streams { get; init; } = [];
    /// <summary>Streams waiting in the round-robin, in order.</summary>
    public ushort[] Scheduled { get; init; } = [];
    /// <summary>Bytes queued or unacknowledged over all streams.</summary>
    public long BufferedAmount { get; init; }
    /// <summary>Bytes in flight (sent, not acknowledged, not marked lost).</summary>
    public int FlightSize { get; init; }
    /// <summary>Chunks marked for retransmission.</summary>
    public int RetransmitPending { get; init; }
    /// <summary>The next packet may retransmit whatever the window (fast retransmit).</summary>
    public bool FastRetransmitBypass { get; init; }
    /// <summary>Congestion window, bytes.</summary>
    public int Cwnd { get; init; }
    /// <summary>Slow start threshold, bytes.</summary>
    public int Ssthresh { get; init; }
    /// <summary>Partial bytes acked (congestion avoidance).</summary>
    public int PartialBytesAcked { get; init; }
    /// <summary>In fast recovery.</summary>
    public bool InFastRecovery { get; init; }
    /// <summary>The TSN whose acknowledgement ends fast recovery.</summary>
    public uint FastRecoveryExit { get; init; }
    /// <summary>The peer's receive window as last computed, bytes.</summary>
    public long PeerRwnd { get; init; }
    /// <summary>A FORWARD-TSN is owed.</summary>
    public bool ForwardTsnPending { get; init; }
    /// <summary>Consecutive timeouts (association error count).</summary>
    public int ErrorCount { get; init; }
    /// <summary>SACKs processed (gap marks carry the number of the SACK that last reported them).</summary>
    public int SackStamp { get; init; }
    /// <summary>RTO, ticks.</summary>
    public long RtoTicks { get; init; }
    /// <summary>Smoothed RTT, ticks; null before the first measurement.</summary>
    public long? SrttTicks { get; init; }
    /// <summary>RTT variation, ticks.</summary>
    public long RttvarTicks { get; init; }
    /// <summary>An RTT measurement is running on <see cref="RttTsn"/>.</summary>
    public bool RttPending { get; init; }
    /// <summary>The TSN timed for RTT.</summary>
    public uint RttTsn { get; init; }
    /// <summary>T3-rtx: time remaining, ticks; null when stopped.</summary>
    public long? T3RemainingTicks { get; init; }
}

/// <summary>An outgoing message with its bytes.</summary>
public sealed record SctpOutgoingMessageState
{
    /// <summary>Stream id.</summary>
    public ushort StreamId { get; init; }
    /// <summary>Payload protocol identifier.</summary>
    public uint Ppid { get; init; }
    /// <summary>Sent unordered.</summary>
    public bool Unordered { get; init; }
    /// <summary>Retransmissions allowed; -1 for reliable.</summary>
    public int MaxRetransmits { get; init; } = -1;
    /// <summary>Lifetime remaining, ticks (negative: expired); null for no lifetime.</summary>
    public long? LifetimeRemainingTicks { get; init; }
    /// <summary>The whole message.</summary>
    public byte[] Data { get; init; } = [];
    /// <summary>Bytes already cut into chunks.</summary>
    public int Offset { get; init; }
    /// <summary>Its stream sequence number (once it has one).</summary>
    public ushort Ssn { get; init; }
    /// <summary>Chunks of it in <see cref="SctpSendState.Chunks"/>.</summary>
    public int ChunksInList { get; init; }
    /// <summary>Given up (partial reliability).</summary>
    public bool Abandoned { get; init; }
}

/// <summary>A DATA chunk that has a TSN and has not left the outstanding list.</summary>
public sealed record SctpOutChunkState
{
    /// <summary>TSN.</summary>
    public uint Tsn { get; init; }
    /// <summary>Its message, an index into <see cref="SctpSendState.Messages"/>.</summary>
    public int Message { get; init; }
    /// <summary>Where in the message its bytes start.</summary>
    public int Offset { get; init; }
    /// <summary>Its number of bytes.</summary>
    public int Length { get; init; }
    /// <summary>DATA flags (B, E, U).</summary>
    public byte Flags { get; init; }
    /// <summary>Stream sequence number written.</summary>
    public ushort Ssn { get; init; }
    /// <summary>Time since it was last sent, ticks.</summary>
    public long SentAgoTicks { get; init; }
    /// <summary>Times sent.</summary>
    public int Transmissions { get; init; }
    /// <summary>Miss indications (fast retransmit).</summary>
    public int MissIndications { get; init; }
    /// <summary>Acknowledged by a gap block.</summary>
    public bool Acked { get; init; }
    /// <summary>Abandoned (partial reliability).</summary>
    public bool Abandoned { get; init; }
    /// <summary>Marked for retransmission.</summary>
    public bool NeedsRetransmit { get; init; }
    /// <summary>Already fast-retransmitted once.</summary>
    public bool FastRetransmitted { get; init; }
    /// <summary>Counted in the flight size.</summary>
    public bool InFlight { get; init; }
    /// <summary>The SACK that last reported it in a gap block.</summary>
    public int GapStamp { get; init; }
}

/// <summary>An outgoing stream.</summary>
public sealed record SctpOutStreamState
{
    /// <summary>Stream id.</summary>
    public ushort Id { get; init; }
    /// <summary>Queued messages (indices into <see cref="SctpSendState.Messages"/>), oldest first.</summary>
    public int[] Queue { get; init; } = [];
    /// <summary>The SSN the next ordered message gets.</summary>
    public ushort NextSsn { get; init; }
    /// <summary>Bytes queued or unacknowledged on it.</summary>
    public long BufferedBytes { get; init; }
    /// <summary>A reset was asked and has not completed.</summary>
    public bool ResetRequested { get; init; }
    /// <summary>Messages that must go before the reset request.</summary>
    public int MessagesBeforeReset { get; init; }
}

/// <summary>The receiving half of an association.</summary>
public sealed record SctpReceiveState
{
    /// <summary>The peer's TSN up to which everything arrived.</summary>
    public uint CumulativeTsn { get; init; }
    /// <summary>The highest TSN received.</summary>
    public uint HighestReceived { get; init; }
    /// <summary>TSNs received above the cumulative TSN, as runs (the gap blocks of the next SACK).</summary>
    public SctpTsnRange[] Received { get; init; } = [];
    /// <summary>Duplicate TSNs to report in the next SACK.</summary>
    public uint[] Duplicates { get; init; } = [];
    /// <summary>Fragments held for reassembly, in TSN order, with their bytes.</summary>
    public SctpFragmentState[] Fragments { get; init; } = [];
    /// <summary>Incoming streams with state, by id.</summary>
    public SctpInStreamState[] Streams { get; init; } = [];
    /// <summary>Bytes held (fragments, messages waiting for order, undelivered messages): what shrinks a_rwnd.</summary>
    public long ReceiveHeld { get; init; }
    /// <summary>A SACK is to go with the next packet.</summary>
    public bool SackPending { get; init; }
    /// <summary>The next SACK goes at once (duplicates, I bit).</summary>
    public bool SackImmediate { get; init; }
    /// <summary>Delayed SACK timer: time remaining, ticks; null when stopped.</summary>
    public long? SackRemainingTicks { get; init; }
    /// <summary>Packets with DATA since the last SACK.</summary>
    public int PacketsSinceSack { get; init; }
}

/// <summary>TSNs from <see cref="First"/> to <see cref="Last"/> (serial arithmetic).</summary>
public sealed record SctpTsnRange
{
    /// <summary>First TSN.</summary>
    public uint First { get; init; }
    /// <summary>Last TSN.</summary>
    public uint Last { get; init; }
}

/// <summary>A received fragment waiting for the rest of its message.</summary>
public sealed record SctpFragmentState
{
    /// <summary>TSN.</summary>
    public uint Tsn { get; init; }
    /// <summary>Stream id.</summary>
    public ushort StreamId { get; init; }
    /// <summary>Stream sequence number.</summary>
    public ushort Ssn { get; init; }
    /// <summary>Payload protocol identifier.</summary>
    public uint Ppid { get; init; }
    /// <summary>DATA flags (B, E, U).</summary>
    public byte Flags { get; init; }
    /// <summary>Its bytes.</summary>
    public byte[] Data { get; init; } = [];
}

/// <summary>An incoming stream.</summary>
public sealed record SctpInStreamState
{
    /// <summary>Stream id.</summary>
    public ushort Id { get; init; }
    /// <summary>The SSN delivered next.</summary>
    public ushort NextSsn { get; init; }
    /// <summary>Complete ordered messages waiting for their turn, by SSN.</summary>
    public SctpReadyMessageState[] Ready { get; init; } = [];
}

/// <summary>A complete ordered message waiting for the ones before it.</summary>
public sealed record SctpReadyMessageState
{
    /// <summary>Stream sequence number.</summary>
    public ushort Ssn { get; init; }
    /// <summary>Payload protocol identifier.</summary>
    public uint Ppid { get; init; }
    /// <summary>Its bytes; null for a message discarded as oversized (order still moves past it).</summary>
    public byte[]? Data { get; init; }
}

/// <summary>Stream reset (RFC 6525) state.</summary>
public sealed record SctpReconfigState
{
    /// <summary>Our next request sequence number.</summary>
    public uint NextRequestSeq { get; init; }
    /// <summary>Streams waiting for a request of their own.</summary>
    public ushort[] StreamsToReset { get; init; } = [];
    /// <summary>Streams of the request awaiting an answer; null when none is.</summary>
    public ushort[]? InFlightStreams { get; init; }
    /// <summary>Sequence number of the request awaiting an answer.</summary>
    public uint InFlightSeq { get; init; }
    /// <summary>The last TSN assigned before that request.</summary>
    public uint InFlightLastTsn { get; init; }
    /// <summary>The request is to be (re)sent.</summary>
    public bool RequestPending { get; init; }
    /// <summary>Request retransmission timer: time remaining, ticks; null when stopped.</summary>
    public long? RequestRemainingTicks { get; init; }
    /// <summary>The peer's next request sequence number.</summary>
    public uint PeerExpectedSeq { get; init; }
    /// <summary>The peer's last request answered.</summary>
    public uint LastPeerRequestSeq { get; init; }
    /// <summary>Our answer to it (RFC 6525 result code).</summary>
    public uint LastPeerResult { get; init; }
    /// <summary><see cref="LastPeerRequestSeq"/> is meaningful.</summary>
    public bool HaveLastPeerRequest { get; init; }
    /// <summary>A peer's reset answered "in progress", waiting for its TSNs; null when none.</summary>
    public SctpDeferredResetState? DeferredReset { get; init; }
}

/// <summary>A peer's outgoing reset performed once every TSN up to <see cref="LastTsn"/> arrived.</summary>
public sealed record SctpDeferredResetState
{
    /// <summary>The peer's request sequence number.</summary>
    public uint Seq { get; init; }
    /// <summary>The peer's last TSN before the reset.</summary>
    public uint LastTsn { get; init; }
    /// <summary>The streams (empty: all).</summary>
    public ushort[] Streams { get; init; } = [];
}

/// <summary>An <see cref="SctpEvent"/> not yet polled.</summary>
public sealed record SctpEventState
{
    /// <summary>What happened.</summary>
    public SctpEventKind Kind { get; init; }
    /// <summary>Why.</summary>
    public string? Reason { get; init; }
    /// <summary>The streams, for reset events.</summary>
    public ushort[]? Streams { get; init; }
}

/// <summary>A delivered message not yet polled.</summary>
public sealed record SctpMessageState
{
    /// <summary>Stream id.</summary>
    public ushort StreamId { get; init; }
    /// <summary>Payload protocol identifier.</summary>
    public uint Ppid { get; init; }
    /// <summary>Sent unordered.</summary>
    public bool Unordered { get; init; }
    /// <summary>Its bytes.</summary>
    public byte[] Data { get; init; } = [];
}

/// <summary><see cref="SctpCounters"/> as plain data.</summary>
public sealed record SctpCountersState
{
    /// <summary><see cref="SctpCounters.PacketsReceived"/>.</summary>
    public long PacketsReceived { get; init; }
    /// <summary><see cref="SctpCounters.PacketsSent"/>.</summary>
    public long PacketsSent { get; init; }
    /// <summary><see cref="SctpCounters.MalformedPackets"/>.</summary>
    public long MalformedPackets { get; init; }
    /// <summary><see cref="SctpCounters.ChecksumErrors"/>.</summary>
    public long ChecksumErrors { get; init; }
    /// <summary><see cref="SctpCounters.VerificationTagErrors"/>.</summary>
    public long VerificationTagErrors { get; init; }
    /// <summary><see cref="SctpCounters.ChunksDropped"/>.</summary>
    public long ChunksDropped { get; init; }
    /// <summary><see cref="SctpCounters.DataChunksReceived"/>.</summary>
    public long DataChunksReceived { get; init; }
    /// <summary><see cref="SctpCounters.DuplicateChunks"/>.</summary>
    public long DuplicateChunks { get; init; }
    /// <summary><see cref="SctpCounters.InvalidStreamChunks"/>.</summary>
    public long InvalidStreamChunks { get; init; }
    /// <summary><see cref="SctpCounters.ReceiveWindowDrops"/>.</summary>
    public long ReceiveWindowDrops { get; init; }
    /// <summary><see cref="SctpCounters.OversizedMessages"/>.</summary>
    public long OversizedMessages { get; init; }
    /// <summary><see cref="SctpCounters.MessagesReceived"/>.</summary>
    public long MessagesReceived { get; init; }
    /// <summary><see cref="SctpCounters.MessagesSent"/>.</summary>
    public long MessagesSent { get; init; }
    /// <summary><see cref="SctpCounters.DataChunksSent"/>.</summary>
    public long DataChunksSent { get; init; }
    /// <summary><see cref="SctpCounters.Retransmissions"/>.</summary>
    public long Retransmissions { get; init; }
    /// <summary><see cref="SctpCounters.FastRetransmits"/>.</summary>
    public long FastRetransmits { get; init; }
    /// <summary><see cref="SctpCounters.T3Expirations"/>.</summary>
    public long T3Expirations { get; init; }
    /// <summary><see cref="SctpCounters.MessagesAbandoned"/>.</summary>
    public long MessagesAbandoned { get; init; }
    /// <summary><see cref="SctpCounters.HeartbeatsAnswered"/>.</summary>
    public long HeartbeatsAnswered { get; init; }
}

/// <summary>
/// A <see cref="DataChannelEndpoint"/> as plain data (<see cref="DataChannelEndpoint.Export"/>,
/// <see cref="DataChannelEndpoint.Import"/>): its association and its channels.
/// </summary>
public sealed record DataChannelEndpointState
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Format version (<see cref="CurrentVersion"/>).</summary>
    public int Version { get; init; } = CurrentVersion;
    /// <summary>The association underneath.</summary>
    public SctpAssociationState Association { get; init; } = new();
    /// <summary>Our DTLS role is client (even stream ids).</summary>
    public bool DtlsClient { get; init; }
    /// <summary>The channels open or closing, by id.</summary>
    public DataChannelState[] Channels { get; init; } = [];
    /// <summary>Streams whose outgoing half we reset (asked or done) since they were last free.</summary>
    public ushort[] OutgoingResetAsked { get; init; } = [];
    /// <summary>Streams whose outgoing reset completed.</summary>
    public ushort[] OutgoingResetDone { get; init; } = [];
    /// <summary>Streams the peer reset.</summary>
    public ushort[] IncomingReset { get; init; } = [];
    /// <summary><see cref="DataChannelEndpoint.RejectedOpens"/>.</summary>
    public long RejectedOpens { get; init; }
    /// <summary><see cref="DataChannelEndpoint.MessagesWithoutChannel"/>.</summary>
    public long MessagesWithoutChannel { get; init; }
    /// <summary>User messages not yet polled.</summary>
    public SctpMessageState[] Messages { get; init; } = [];
    /// <summary>Events not yet polled.</summary>
    public DataChannelEventState[] Events { get; init; } = [];
}

/// <summary>A data channel (<see cref="DataChannelInfo"/>) as plain data.</summary>
public sealed record DataChannelState
{
    /// <summary>Stream id.</summary>
    public ushort Id { get; init; }
    /// <summary>DCEP channel type (reliability and ordering).</summary>
    public DataChannelType ChannelType { get; init; }
    /// <summary>DCEP priority.</summary>
    public ushort Priority { get; init; }
    /// <summary>DCEP reliability parameter.</summary>
    public uint ReliabilityParameter { get; init; }
    /// <summary>Label.</summary>
    public string Label { get; init; } = "";
    /// <summary>Sub-protocol.</summary>
    public string Protocol { get; init; } = "";
    /// <summary>Negotiated out of band.</summary>
    public bool Negotiated { get; init; }
    /// <summary>Opened by us.</summary>
    public bool LocallyOpened { get; init; }
    /// <summary>Acknowledged (unordered sending allowed).</summary>
    public bool Acknowledged { get; init; }
    /// <summary>Closing (our outgoing stream reset).</summary>
    public bool Closing { get; init; }
}

/// <summary>A <see cref="DataChannelEvent"/> not yet polled.</summary>
public sealed record DataChannelEventState
{
    /// <summary>What happened.</summary>
    public DataChannelEventKind Kind { get; init; }
    /// <summary>The channel as it was at export, for channel events.</summary>
    public DataChannelState? Channel { get; init; }
    /// <summary>The event names the channel object still in <see cref="DataChannelEndpointState.Channels"/> (not one already forgotten).</summary>
    public bool ChannelIsCurrent { get; init; }
    /// <summary>The association's event, for Association events.</summary>
    public SctpEventState? Association { get; init; }
}
