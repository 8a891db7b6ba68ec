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
    /// <summary>Receive bitrate, bps (not yet measured: 0).</summary>
    public long RecvBitrate { get; init; }
    /// <summary>Send bitrate, bps (not yet measured: 0).</summary>
    public long SendBitrate { get; init; }
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
}
