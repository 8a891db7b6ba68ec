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
    /// <summary>Plain: RTP and RTCP share a port.</summary>
    public bool? RtcpMux { get; init; }
    /// <summary>Plain: the remote address is learnt from the first packet.</summary>
    public bool? Comedia { get; init; }
    /// <summary>Plain and pipe: the RTP tuple.</summary>
    public TransportTupleInfo? Tuple { get; init; }
    /// <summary>Plain without rtcp-mux: the RTCP tuple.</summary>
    public TransportTupleInfo? RtcpTuple { get; init; }
}
