namespace Ferry.Transports;

/// <summary>
/// A transport with no network: the application injects RTP with <see cref="Rtp.Producer.Send"/> and
/// RTCP with <see cref="SendRtcpAsync"/>, and receives consumers' RTP through their Rtp event and the
/// RTCP produced for it through <see cref="Rtcp"/>. Always connected.
/// </summary>
public sealed class DirectTransport : Transport
{
    private readonly byte[] _inbound = GC.AllocateUninitializedArray<byte>(2048, pinned: true);

    internal DirectTransport(Router router, DirectTransportOptions options) : base(router, options.AppData)
    {
        MaxMessageSize = options.MaxMessageSize;
    }

    /// <summary>Largest data message.</summary>
    public int MaxMessageSize { get; }

    /// <summary>RTCP the transport produced (receiver reports, PLI, NACK...), raised on the worker thread.</summary>
    public event Action<byte[]>? Rtcp;

    internal override bool IsConnected => !Closed;

    /// <summary>Injects an RTCP compound as if received from the endpoint.</summary>
    /// <exception cref="ArgumentException">Larger than 2048 bytes.</exception>
    public Task SendRtcpAsync(byte[] rtcp)
    {
        ThrowIfClosed();
        if (rtcp.Length > _inbound.Length) throw new ArgumentException("RTCP packet too large");
        return InvokeAsync(() =>
        {
            if (Closed) return;
            rtcp.CopyTo(_inbound, 0);
            ReceiveRtcp(_inbound.AsSpan(0, rtcp.Length));
        });
    }

    /// <summary>Statistics with mediasoup's field names.</summary>
    public Task<IReadOnlyList<TransportStats>> GetStatsAsync() => InvokeOpenAsync(() => (IReadOnlyList<TransportStats>)
        [WithCommonStats(new TransportStats { Type = "direct-transport", TransportId = Id, Timestamp = (long)Loop.Now.TotalMilliseconds })]);

    internal void InjectRtp(ReadOnlySpan<byte> packet)
    {
        if (packet.Length > _inbound.Length) throw new ArgumentException("RTP packet too large");
        var copy = packet.ToArray();
        Post(() =>
        {
            if (Closed) return;
            copy.CopyTo(_inbound, 0);
            ReceiveRtp(_inbound.AsSpan(0, copy.Length));
        });
    }

    private protected override void SendRtp(Span<byte> buffer, int length)
    {
        // Consumers raise their own Rtp event before this; nothing goes to a network.
    }

    private protected override void SendRtcp(Span<byte> buffer, int length)
    {
        if (Rtcp is { } handler) Events.Emit(handler, buffer[..length].ToArray(), Logger);
    }

    /// <summary>A direct data consumer's message goes to the application (its Message event).</summary>
    internal override Protocols.Sctp.SctpSendResult SendDataMessage(Data.DataConsumer consumer, uint ppid, ReadOnlySpan<byte> data)
    {
        consumer.RaiseMessage(ppid, data);
        return Protocols.Sctp.SctpSendResult.Ok;
    }

    private protected override void ReleaseResources()
    {
    }
}
