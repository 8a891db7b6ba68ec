using Ferry.Protocols.Recovery;

namespace Ferry.Mobility;

// Snapshots of the media objects, to bring them back to life in another worker or process.
// Plain data only: numbers, strings, byte and number arrays, nested records of the same; no object
// references and no process-relative times (a time is an age or a remaining duration in microseconds
// at the export, rebased on import). RTP parameters are carried as mediasoup-client JSON text.
// Each top-level record has a Version; an importer refuses versions it does not know.

/// <summary>A <see cref="Rtp.Producer"/>'s state: identity, parameters, its receive streams and their recovery state.</summary>
public sealed record ProducerSnapshot
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int CurrentVersion = 1;
    /// <summary>Format version.</summary>
    public int Version { get; init; } = CurrentVersion;
    /// <summary>Producer id (kept).</summary>
    public required string Id { get; init; }
    /// <summary>"audio" or "video".</summary>
    public required string Kind { get; init; }
    /// <summary>"simple", "simulcast" or "svc" (derived again from the parameters on import; checked).</summary>
    public required string Type { get; init; }
    /// <summary>The producer's RTP parameters (after validation and the CNAME rule) as mediasoup-client JSON.</summary>
    public required string RtpParameters { get; init; }
    /// <summary>Paused.</summary>
    public bool Paused { get; init; }
    /// <summary>keyFrameRequestDelay in microseconds.</summary>
    public long KeyFrameRequestDelayMicros { get; init; }
    /// <summary>One per encoding, in encoding order.</summary>
    public IReadOnlyList<ReceiveStreamSnapshot> Streams { get; init; } = [];
    /// <summary>Key frame requests waiting or delayed.</summary>
    public KeyFrameRequestManagerState KeyFrameRequests { get; init; } = new();
}

/// <summary>One receive stream (encoding) of a producer: learnt SSRCs, RFC 3550 receive statistics, counters, NACK state.</summary>
public sealed record ReceiveStreamSnapshot
{
    /// <summary>Encoding index.</summary>
    public int EncodingIndex { get; init; }
    /// <summary>Media SSRC, signalled or learnt; null while unknown.</summary>
    public uint? Ssrc { get; init; }
    /// <summary>RTX SSRC, signalled or learnt; null while unknown.</summary>
    public uint? RtxSsrc { get; init; }
    /// <summary>RID, when signalled.</summary>
    public string? Rid { get; init; }
    /// <summary>SSRC inside the router (consumers' key frame requests name it).</summary>
    public uint MappedSsrc { get; init; }
    /// <summary>Highest extended sequence number received, -1 before any packet.</summary>
    public long HighestExtendedSeq { get; init; } = -1;
    /// <summary>First extended sequence number received, -1 before any packet.</summary>
    public long BaseSeq { get; init; } = -1;
    /// <summary>RFC 3550 §A.3 interval bookkeeping: expected at the last report.</summary>
    public long ExpectedPrior { get; init; }
    /// <summary>RFC 3550 §A.3 interval bookkeeping: received at the last report.</summary>
    public long ReceivedPrior { get; init; }
    /// <summary>Interarrival jitter in timestamp units.</summary>
    public double Jitter { get; init; }
    /// <summary>Packets received.</summary>
    public long PacketCount { get; init; }
    /// <summary>Bytes received.</summary>
    public long ByteCount { get; init; }
    /// <summary>RTX packets received.</summary>
    public long RtxPacketCount { get; init; }
    /// <summary>Packets recovered through RTX.</summary>
    public long RetransmittedRecovered { get; init; }
    /// <summary>NACK packets sent.</summary>
    public long NackCount { get; init; }
    /// <summary>Sequence numbers NACKed.</summary>
    public long NackPacketCount { get; init; }
    /// <summary>PLIs sent.</summary>
    public long PliCount { get; init; }
    /// <summary>FIRs sent.</summary>
    public long FirCount { get; init; }
    /// <summary>Key frames received.</summary>
    public long KeyFrames { get; init; }
    /// <summary>Fraction lost in the last report interval (1/256).</summary>
    public int FractionLost { get; init; }
    /// <summary>Score 0..10.</summary>
    public int Score { get; init; } = 10;
    /// <summary>RTP timestamp of the last media packet.</summary>
    public uint LastTimestamp { get; init; }
    /// <summary>Microseconds since the last media packet; -1 before any.</summary>
    public long LastPacketAgeMicros { get; init; } = -1;
    /// <summary>NTP time of the last sender report, 0 before any.</summary>
    public ulong LastSrNtp { get; init; }
    /// <summary>RTP timestamp of the last sender report.</summary>
    public uint LastSrRtpTimestamp { get; init; }
    /// <summary>Microseconds since the last sender report arrived; -1 before any.</summary>
    public long LastSrAgeMicros { get; init; } = -1;
    /// <summary>NACK generator state (video with NACK, not replicas); null when the stream has none.</summary>
    public NackGeneratorState? Nack { get; init; }
}

/// <summary>A <see cref="Rtp.Consumer"/>'s state, for every kind: identity and parameters, the output mapping, layers, counters.</summary>
public sealed record ConsumerSnapshot
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int CurrentVersion = 1;
    /// <summary>Format version.</summary>
    public int Version { get; init; } = CurrentVersion;
    /// <summary>Consumer id (kept).</summary>
    public required string Id { get; init; }
    /// <summary>The producer it consumes: a producer with this id must exist in the importing router.</summary>
    public required string ProducerId { get; init; }
    /// <summary>"audio" or "video".</summary>
    public required string Kind { get; init; }
    /// <summary>The kind discriminator: "simple", "simulcast", "svc" or "pipe".</summary>
    public required string Type { get; init; }
    /// <summary>What the endpoint receives (output SSRCs, RTX SSRC, payload types, MID) as mediasoup-client JSON.</summary>
    public required string RtpParameters { get; init; }
    /// <summary>Paused by the application.</summary>
    public bool Paused { get; init; }
    /// <summary>Its producer was paused at the export (the importing side takes its own producer's state).</summary>
    public bool ProducerPaused { get; init; }
    /// <summary>Priority 1..255.</summary>
    public int Priority { get; init; } = 1;
    /// <summary>Opus DTX packets dropped.</summary>
    public bool IgnoreDtx { get; init; }
    /// <summary>Preferred spatial layer (simulcast, svc), null otherwise.</summary>
    public int? PreferredSpatialLayer { get; init; }
    /// <summary>Preferred temporal layer, null for the highest.</summary>
    public int? PreferredTemporalLayer { get; init; }
    /// <summary>Score the endpoint's reports gave, 0..10.</summary>
    public int Score { get; init; } = 10;
    /// <summary>The output stream's mapping and counters (for pipe consumers only the counters and RTX sequence are used).</summary>
    public required SendStreamSnapshot Send { get; init; }
    /// <summary>Simulcast layer state, null for other kinds.</summary>
    public SimulcastSnapshot? Simulcast { get; init; }
    /// <summary>SVC layer state, null for other kinds.</summary>
    public SvcSnapshot? Svc { get; init; }
    /// <summary>Pipe consumers: one per producer encoding; empty for other kinds.</summary>
    public IReadOnlyList<PipeStreamSnapshot> PipeStreams { get; init; } = [];
}

/// <summary>A consumer's output stream: sequence and timestamp mapping (input → output), what was last sent, RTX sequence, counters.</summary>
public sealed record SendStreamSnapshot
{
    /// <summary>Something was sent.</summary>
    public bool HaveSent { get; init; }
    /// <summary>The next packet forwarded must be a sync point (a key frame for video); the mapping below is then chosen afresh, continuing from the last packet sent.</summary>
    public bool SyncRequired { get; init; }
    /// <summary>Output minus input sequence number (mod 2^16).</summary>
    public int SeqOffset { get; init; }
    /// <summary>Output minus input timestamp (mod 2^32).</summary>
    public uint TimestampOffset { get; init; }
    /// <summary>Input sequence number of the last sync point.</summary>
    public int SyncSeq { get; init; }
    /// <summary>Highest input sequence number forwarded or skipped.</summary>
    public int LastInSeq { get; init; }
    /// <summary>Highest output sequence number sent.</summary>
    public int LastOutSeq { get; init; }
    /// <summary>Its output timestamp.</summary>
    public uint LastOutTimestamp { get; init; }
    /// <summary>Microseconds since it was sent; -1 when nothing was.</summary>
    public long LastSentAgeMicros { get; init; } = -1;
    /// <summary>Next RTX sequence number.</summary>
    public int RtxSeq { get; init; }
    /// <summary>Packets sent.</summary>
    public long PacketCount { get; init; }
    /// <summary>Bytes sent.</summary>
    public long ByteCount { get; init; }
    /// <summary>Payload bytes sent (sender reports).</summary>
    public long PayloadByteCount { get; init; }
    /// <summary>Retransmissions sent.</summary>
    public long RetransmittedPackets { get; init; }
    /// <summary>NACKs received.</summary>
    public long NackCount { get; init; }
    /// <summary>PLIs received.</summary>
    public long PliCount { get; init; }
    /// <summary>FIRs received.</summary>
    public long FirCount { get; init; }
    /// <summary>From the endpoint's last report: fraction lost (1/256).</summary>
    public int FractionLost { get; init; }
    /// <summary>From the endpoint's last report: cumulative lost.</summary>
    public int PacketsLost { get; init; }
    /// <summary>From the endpoint's last report: jitter.</summary>
    public uint Jitter { get; init; }
    /// <summary>Round-trip time in microseconds, -1 when unknown.</summary>
    public long RoundTripTimeMicros { get; init; } = -1;
    /// <summary>VP8/VP9 picture id and TL0PICIDX mapping (opaque integers of the rewriter), null for other codecs.</summary>
    public int[]? DescriptorState { get; init; }
    /// <summary>The recent output packets, so NACKs for packets sent before the export can be answered where the producer's copy stores them too.</summary>
    public SentPacketsSnapshot Sent { get; init; } = new();
}

/// <summary>
/// Recent output packets of a consumer, newest last: parallel arrays, one entry per packet. Only those sent at most
/// a second before the newest (what a NACK can still reach), at most the last 512.
/// </summary>
public sealed record SentPacketsSnapshot
{
    /// <summary>Microseconds from the sending of the oldest entry to that of the newest (the others are taken as spread evenly between).</summary>
    public long SpanMicros { get; init; }
    /// <summary>Output sequence numbers.</summary>
    public ushort[] OutSeqs { get; init; } = [];
    /// <summary>Input sequence numbers they were sent for.</summary>
    public ushort[] InSeqs { get; init; } = [];
    /// <summary>Timestamp offsets they were sent with.</summary>
    public uint[] TimestampOffsets { get; init; } = [];
    /// <summary>Producer encodings they came from (simulcast), empty otherwise.</summary>
    public byte[] Encodings { get; init; } = [];
    /// <summary>Picture ids written (-1 none; VP8/VP9), empty otherwise.</summary>
    public int[] PictureIds { get; init; } = [];
    /// <summary>TL0PICIDX written (-1 none; VP8/VP9), empty otherwise.</summary>
    public short[] Tl0PicIdxs { get; init; } = [];
}

/// <summary>A simulcast consumer's layers.</summary>
public sealed record SimulcastSnapshot
{
    /// <summary>Stream forwarded, -1 for none.</summary>
    public int CurrentSpatialLayer { get; init; } = -1;
    /// <summary>Stream aimed for.</summary>
    public int TargetSpatialLayer { get; init; }
    /// <summary>Temporal layer forwarded, -1 for none.</summary>
    public int CurrentTemporalLayer { get; init; } = -1;
    /// <summary>Temporal layer aimed for.</summary>
    public int TargetTemporalLayer { get; init; }
}

/// <summary>An SVC consumer's layers.</summary>
public sealed record SvcSnapshot
{
    /// <summary>Spatial layer forwarded, -1 for none.</summary>
    public int CurrentSpatialLayer { get; init; } = -1;
    /// <summary>Temporal layer forwarded, -1 for none.</summary>
    public int CurrentTemporalLayer { get; init; } = -1;
    /// <summary>Spatial layer aimed for.</summary>
    public int TargetSpatialLayer { get; init; }
    /// <summary>Temporal layer aimed for.</summary>
    public int TargetTemporalLayer { get; init; }
    /// <summary>RTP timestamp of the current picture.</summary>
    public uint PictureTimestamp { get; init; }
    /// <summary>A picture is under way.</summary>
    public bool HavePicture { get; init; }
}

/// <summary>One stream of a pipe consumer.</summary>
public sealed record PipeStreamSnapshot
{
    /// <summary>Next RTX sequence number.</summary>
    public int RtxSeq { get; init; }
    /// <summary>Something was sent on it.</summary>
    public bool HaveSent { get; init; }
    /// <summary>Highest sequence number sent.</summary>
    public int LastSeq { get; init; }
    /// <summary>Its timestamp.</summary>
    public uint LastTimestamp { get; init; }
    /// <summary>Microseconds since it was sent; -1 when nothing was.</summary>
    public long LastSentAgeMicros { get; init; } = -1;
    /// <summary>Packets sent (sender reports).</summary>
    public uint Packets { get; init; }
    /// <summary>Payload bytes sent (sender reports).</summary>
    public uint PayloadBytes { get; init; }
}

/// <summary>A <see cref="Data.DataProducer"/>'s state.</summary>
public sealed record DataProducerSnapshot
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int CurrentVersion = 1;
    /// <summary>Format version.</summary>
    public int Version { get; init; } = CurrentVersion;
    /// <summary>Id (kept).</summary>
    public required string Id { get; init; }
    /// <summary>"sctp" or "direct".</summary>
    public required string Type { get; init; }
    /// <summary>The stream the endpoint sends on (sctp), null for direct.</summary>
    public SctpStreamSnapshot? SctpStream { get; init; }
    /// <summary>Label.</summary>
    public string Label { get; init; } = "";
    /// <summary>Protocol.</summary>
    public string Protocol { get; init; } = "";
    /// <summary>Paused.</summary>
    public bool Paused { get; init; }
    /// <summary>Messages received.</summary>
    public long MessagesReceived { get; init; }
    /// <summary>Bytes received.</summary>
    public long BytesReceived { get; init; }
}

/// <summary>A <see cref="Data.DataConsumer"/>'s state.</summary>
public sealed record DataConsumerSnapshot
{
    /// <summary>The format version this code writes and reads.</summary>
    public const int CurrentVersion = 1;
    /// <summary>Format version.</summary>
    public int Version { get; init; } = CurrentVersion;
    /// <summary>Id (kept).</summary>
    public required string Id { get; init; }
    /// <summary>The data producer it consumes: must exist in the importing router.</summary>
    public required string DataProducerId { get; init; }
    /// <summary>"sctp" or "direct".</summary>
    public required string Type { get; init; }
    /// <summary>Its own stream (sctp; the endpoint's DataChannel was created on it), null for direct.</summary>
    public SctpStreamSnapshot? SctpStream { get; init; }
    /// <summary>The producer's label.</summary>
    public string Label { get; init; } = "";
    /// <summary>The producer's protocol.</summary>
    public string Protocol { get; init; } = "";
    /// <summary>Paused by the application.</summary>
    public bool Paused { get; init; }
    /// <summary>Its producer was paused at the export (the importing side takes its own producer's state).</summary>
    public bool DataProducerPaused { get; init; }
    /// <summary>Subchannels subscribed to.</summary>
    public int[] Subchannels { get; init; } = [];
    /// <summary>The bufferedamountlow threshold.</summary>
    public long BufferedAmountLowThreshold { get; init; }
    /// <summary>Messages sent.</summary>
    public long MessagesSent { get; init; }
    /// <summary>Bytes sent.</summary>
    public long BytesSent { get; init; }
}

/// <summary>SCTP stream parameters (mediasoup's SctpStreamParameters) as plain data.</summary>
public sealed record SctpStreamSnapshot
{
    /// <summary>Stream id.</summary>
    public int StreamId { get; init; }
    /// <summary>Ordered delivery; null when not given.</summary>
    public bool? Ordered { get; init; }
    /// <summary>Partial reliability by lifetime (ms).</summary>
    public int? MaxPacketLifeTime { get; init; }
    /// <summary>Partial reliability by retransmissions.</summary>
    public int? MaxRetransmits { get; init; }
}
