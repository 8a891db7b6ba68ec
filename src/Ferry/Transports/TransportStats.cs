using Ferry.Protocols.Ortc;

namespace Ferry.Transports;

/// <summary>Transport statistics with mediasoup's field names (the common ones plus each kind's own).</summary>
public sealed record TransportStats
{
    /// <summary>"webrtc-transport", "plain-rtp-transport", "pipe-transport" or "direct-transport".</summary>
    public required string Type { get; init; }
    /// <summary>Transport id.</summary>
    public required string TransportId { get; init; }
    /// <summary>Milliseconds of the worker's clock.</summary>
    public required long Timestamp { get; init; }
    /// <summary>Bytes received.</summary>
    public long BytesReceived { get; init; }
    /// <summary>Bytes sent.</summary>
    public long BytesSent { get; init; }
    /// <summary>Receive bitrate over the last second (RTP and RTCP datagrams; WebRTC: every datagram), bps.</summary>
    public long RecvBitrate { get; init; }
    /// <summary>Send bitrate over the last second (RTP, retransmissions, padding and RTCP), bps.</summary>
    public long SendBitrate { get; init; }
    /// <summary>Media RTP bytes received.</summary>
    public long RtpBytesReceived { get; init; }
    /// <summary>Media RTP receive bitrate over the last second, bps.</summary>
    public long RtpRecvBitrate { get; init; }
    /// <summary>Media RTP bytes sent.</summary>
    public long RtpBytesSent { get; init; }
    /// <summary>Media RTP send bitrate over the last second, bps.</summary>
    public long RtpSendBitrate { get; init; }
    /// <summary>RTX bytes received (retransmissions from the endpoint).</summary>
    public long RtxBytesReceived { get; init; }
    /// <summary>RTX receive bitrate over the last second, bps.</summary>
    public long RtxRecvBitrate { get; init; }
    /// <summary>Retransmitted bytes sent.</summary>
    public long RtxBytesSent { get; init; }
    /// <summary>Retransmission send bitrate over the last second, bps.</summary>
    public long RtxSendBitrate { get; init; }
    /// <summary>Padding bytes sent to find more bandwidth (mediasoup's probation).</summary>
    public long ProbationBytesSent { get; init; }
    /// <summary>Padding send bitrate over the last second, bps.</summary>
    public long ProbationSendBitrate { get; init; }
    /// <summary>The outgoing bandwidth estimate, bps; null while no consumer's endpoint sends congestion feedback.</summary>
    public long? AvailableOutgoingBitrate { get; init; }
    /// <summary>Incoming bandwidth estimate (REMB server): not estimated by Ferry, always null.</summary>
    public long? AvailableIncomingBitrate { get; init; }
    /// <summary>The cap set with setMaxIncomingBitrate, null when none.</summary>
    public long? MaxIncomingBitrate { get; init; }
    /// <summary>The cap set with setMaxOutgoingBitrate, null when none.</summary>
    public long? MaxOutgoingBitrate { get; init; }
    /// <summary>The floor set with setMinOutgoingBitrate, null when none.</summary>
    public long? MinOutgoingBitrate { get; init; }
    /// <summary>Mean fraction lost (0..1) of the streams received, from the last receiver reports; null with none.</summary>
    public double? RtpPacketLossReceived { get; init; }
    /// <summary>Loss (0..1) the endpoint reports in its transport-cc feedback for what is sent; null without.</summary>
    public double? RtpPacketLossSent { get; init; }
    /// <summary>WebRTC: always "controlled".</summary>
    public string? IceRole { get; init; }
    /// <summary>WebRTC: ICE state.</summary>
    public IceStateName? IceState { get; init; }
    /// <summary>WebRTC: the selected tuple.</summary>
    public TransportTupleInfo? IceSelectedTuple { get; init; }
    /// <summary>WebRTC: DTLS state.</summary>
    public DtlsStateName? DtlsState { get; init; }
    /// <summary>SCTP state, when SCTP is enabled.</summary>
    public SctpStateName? SctpState { get; init; }
    /// <summary>Plain: RTP and RTCP share a port.</summary>
    public bool? RtcpMux { get; init; }
    /// <summary>Plain: the remote address is learnt from the first packet.</summary>
    public bool? Comedia { get; init; }
    /// <summary>Plain and pipe: the RTP tuple.</summary>
    public TransportTupleInfo? Tuple { get; init; }
    /// <summary>Plain without rtcp-mux: the RTCP tuple.</summary>
    public TransportTupleInfo? RtcpTuple { get; init; }
    /// <summary>WebRTC with TCP listen infos (a Ferry addition): what its ICE-TCP listeners and connections did.</summary>
    public TcpStats? Tcp { get; init; }
}

/// <summary>
/// What ICE-TCP listeners and their connections did (a Ferry addition to mediasoup's stats). Counted
/// on the worker's loop; read from another thread the figures are a close snapshot.
/// </summary>
public sealed record TcpStats
{
    /// <summary>Connections accepted.</summary>
    public long ConnectionsAccepted { get; init; }
    /// <summary>Connections closed at accept because the listener was at its limit.</summary>
    public long ConnectionsRejected { get; init; }
    /// <summary>Connections open now.</summary>
    public long ConnectionsOpen { get; init; }
    /// <summary>Connections closed, for any reason.</summary>
    public long ConnectionsClosed { get; init; }
    /// <summary>Connections closed for breaking RFC 4571 framing: length 0, a packet above 1500 bytes, a frame cut by the peer's close.</summary>
    public long FramingErrors { get; init; }
    /// <summary>Connections closed before an ICE check succeeded on them: not STUN first, refused credentials, unknown ufrag, or idle (see <see cref="PendingTimeouts"/>).</summary>
    public long UnauthenticatedClosed { get; init; }
    /// <summary>Of those, connections that sent no successful ICE check within the pending timeout.</summary>
    public long PendingTimeouts { get; init; }
    /// <summary>Frames received.</summary>
    public long FramesReceived { get; init; }
    /// <summary>Frames sent (or queued to be sent).</summary>
    public long FramesSent { get; init; }
    /// <summary>Bytes received, framing included.</summary>
    public long BytesReceived { get; init; }
    /// <summary>Bytes sent, framing included.</summary>
    public long BytesSent { get; init; }
    /// <summary>Packets dropped instead of sent: the connection's bounded send queue was full, or the connection broke.</summary>
    public long SendDrops { get; init; }

    internal static TcpStats From(IEnumerable<Loop.TcpCounterSet> sets)
    {
        long accepted = 0, rejected = 0, closed = 0, framing = 0, unauthenticated = 0, timeouts = 0, framesIn = 0, framesOut = 0, bytesIn = 0, bytesOut = 0, drops = 0;
        foreach (var c in sets)
        {
            accepted += Volatile.Read(ref c.ConnectionsAccepted);
            rejected += Volatile.Read(ref c.ConnectionsRejected);
            closed += Volatile.Read(ref c.ConnectionsClosed);
            framing += Volatile.Read(ref c.FramingErrors);
            unauthenticated += Volatile.Read(ref c.UnauthenticatedClosed);
            timeouts += Volatile.Read(ref c.PendingTimeouts);
            framesIn += Volatile.Read(ref c.FramesReceived);
            framesOut += Volatile.Read(ref c.FramesSent);
            bytesIn += Volatile.Read(ref c.BytesReceived);
            bytesOut += Volatile.Read(ref c.BytesSent);
            drops += Volatile.Read(ref c.SendDrops);
        }
        return new TcpStats
        {
            ConnectionsAccepted = accepted, ConnectionsRejected = rejected, ConnectionsOpen = accepted - closed, ConnectionsClosed = closed,
            FramingErrors = framing, UnauthenticatedClosed = unauthenticated, PendingTimeouts = timeouts,
            FramesReceived = framesIn, FramesSent = framesOut, BytesReceived = bytesIn, BytesSent = bytesOut, SendDrops = drops,
        };
    }
}
