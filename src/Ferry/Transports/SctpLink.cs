using Ferry.Loop;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Sctp;
using Microsoft.Extensions.Logging;

namespace Ferry.Transports;

/// <summary>
/// A transport's SCTP association (data channels over DTLS, RFC 8261) and the glue to its loop: the
/// sans-IO <see cref="DataChannelEndpoint"/>, one owned timer (so it follows moves), packets out
/// through the transport's DTLS, messages in to the transport's data producers. A plain object owned
/// by its transport: it moves with it.
/// </summary>
internal sealed class SctpLink
{
    private readonly Transport _transport;
    private readonly Func<ReadOnlySpan<byte>, bool> _sendPacket;
    private readonly Action<SctpStateName> _onStateChange;
    private readonly DataChannelEndpoint _endpoint;
    private readonly LoopTimer _timer;
    private readonly byte[] _packet = new byte[1500];
    private bool _flushing;
    private bool _flushAgain;
    private bool _released;

    public SctpLink(Transport transport, SctpParameters parameters, int sendBufferSize, Func<ReadOnlySpan<byte>, bool> sendPacket, Action<SctpStateName> onStateChange,
        DataChannelEndpointState? imported = null, SctpStateName importedState = SctpStateName.New)
    {
        _transport = transport;
        Parameters = parameters;
        SendBufferSize = sendBufferSize;
        _sendPacket = sendPacket;
        _onStateChange = onStateChange;
        if (imported is null)
        {
            var association = new SctpAssociation(new SctpOptions
            {
                OutboundStreams = (ushort)parameters.Os,
                MaxInboundStreams = (ushort)parameters.Mis,
                MaxMessageSize = parameters.MaxMessageSize,
                SendBufferSize = sendBufferSize,
                // Enough to reassemble the largest message while more arrive.
                ReceiveWindow = Math.Max(1 << 20, 2 * parameters.MaxMessageSize),
            });
            _endpoint = new DataChannelEndpoint(association, dtlsClient: false);
        }
        else
        {
            // A transport brought in by a move between processes: the association goes on where the source left it.
            _endpoint = DataChannelEndpoint.Import(imported, transport.Loop.Now);
            State = importedState;
        }
        _timer = transport.CreateOwnedTimer(OnTimer);
        if (imported is not null) ArmTimer();
    }

    /// <summary>
    /// Set while the transport is frozen for a move between processes: the association's state went out in
    /// a snapshot, so its timers must not change it here (an aborted move thaws it).
    /// </summary>
    public bool Frozen { get; set; }

    /// <summary>The association and its channels as plain data (the transport is frozen).</summary>
    public DataChannelEndpointState Export() => _endpoint.Export(_transport.Loop.Now);

    /// <summary>The transport moved to another process (or an aborted move replaced this link): release everything without a word to the far end (the association lives on).</summary>
    public void ReleaseSilently()
    {
        if (_released) return;
        _released = true;
        _transport.ReleaseOwnedTimer(_timer);
        _endpoint.Dispose();
        State = SctpStateName.Closed;
    }

    /// <summary>port 5000, OS, MIS, maxMessageSize.</summary>
    public SctpParameters Parameters { get; }

    /// <summary>sctpSendBufferSize.</summary>
    public int SendBufferSize { get; }

    /// <summary>mediasoup's sctpState.</summary>
    public SctpStateName State { get; private set; } = SctpStateName.New;

    /// <summary>What the association counted.</summary>
    public SctpCounters Counters => _endpoint.Association.Counters;

    /// <summary>DCEP opens the endpoint made and Ferry refused or answered.</summary>
    public DataChannelEndpoint Endpoint => _endpoint;

    /// <summary>DTLS is up: start the association (both sides send INIT; the collision rules make one association of it).</summary>
    public void Start(bool dtlsClient)
    {
        if (_released || State != SctpStateName.New) return;
        _endpoint.DtlsClient = dtlsClient;
        SetState(SctpStateName.Connecting);
        _endpoint.Association.Connect(_transport.Loop.Now);
        Flush();
    }

    /// <summary>One SCTP packet from DTLS application data.</summary>
    public void HandlePacket(ReadOnlySpan<byte> packet)
    {
        if (_released || Frozen) return;
        _endpoint.HandlePacket(_transport.Loop.Now, packet);
        Flush();
    }

    /// <summary>Queues a message on a stream (before the association is up it waits, within the send buffer).</summary>
    public SctpSendResult Send(ushort streamId, uint ppid, ReadOnlySpan<byte> data, SctpSendOptions options)
    {
        if (_released || Frozen) return SctpSendResult.Closed;
        // SCTP cannot carry an empty message: WebRTC sends one ignored byte with PPID 56/57 (RFC 8831 §6.6).
        if (data.IsEmpty || ppid is DataChannelPpid.StringEmpty or DataChannelPpid.BinaryEmpty) data = [0];
        var result = _endpoint.Association.Send(_transport.Loop.Now, streamId, ppid, data, options);
        Flush();
        return result;
    }

    /// <summary>Resets our outgoing half of a stream (closes the endpoint's DataChannel on it).</summary>
    public void ResetStream(ushort streamId)
    {
        if (_released || Frozen) return;
        _endpoint.ResetStream(_transport.Loop.Now, streamId);
        Flush();
    }

    /// <summary>Bytes queued or unacknowledged on a stream.</summary>
    public long BufferedAmount(ushort streamId) => _released || Frozen ? 0 : _endpoint.Association.GetBufferedAmount(streamId);

    /// <summary>DTLS failed or closed underneath.</summary>
    public void OnDtlsGone(bool failed)
    {
        if (_released || Frozen) return;
        SetState(failed ? SctpStateName.Failed : SctpStateName.Closed);
    }

    /// <summary>The transport closes: ABORT the association (sent before DTLS's close_notify) and release everything.</summary>
    public void Release()
    {
        if (_released) return;
        if (!_endpoint.Association.IsFinished && _endpoint.Association.State != SctpState.Closed)
        {
            _endpoint.Association.Abort();
            int n;
            while ((n = _endpoint.PollPacket(_packet, _transport.Loop.Now)) > 0) _sendPacket(_packet.AsSpan(0, n));
        }
        _released = true;
        _transport.ReleaseOwnedTimer(_timer);
        _endpoint.Dispose();
        State = SctpStateName.Closed;
    }

    private void OnTimer()
    {
        if (_released || Frozen) return;
        _endpoint.HandleTimeout(_transport.Loop.Now);
        Flush();
    }

    /// <summary>
    /// Sends what the association wants to send, hands received messages to the data producers and
    /// follows its events. Re-entrant calls (a consumer of this transport sending from inside a
    /// delivery) only ask the running flush for another round.
    /// </summary>
    private void Flush()
    {
        if (_flushing)
        {
            _flushAgain = true;
            return;
        }
        _flushing = true;
        try
        {
            do
            {
                _flushAgain = false;
                var now = _transport.Loop.Now;
                int n;
                while ((n = _endpoint.PollPacket(_packet, now)) > 0) _sendPacket(_packet.AsSpan(0, n));
                while (_endpoint.TryPollMessage(out var message))
                {
                    try
                    {
                        _transport.OnSctpMessage(message.StreamId, message.Ppid, message.Data);
                    }
                    finally
                    {
                        message.Release();
                    }
                }
                while (_endpoint.TryPollEvent(out var e)) OnEvent(e);
            }
            while (_flushAgain && !_released);
        }
        finally
        {
            _flushing = false;
        }
        ArmTimer();
    }

    private void OnEvent(DataChannelEvent e)
    {
        switch (e.Kind)
        {
            case DataChannelEventKind.ChannelOpened:
                // A DataChannel the browser opened in-band (not through mediasoup-client): acknowledged by
                // DCEP, but nothing produces on it until the application calls produceData for its stream.
                _transport.Logger.LogDebug("transport {TransportId}: DCEP open of stream {StreamId} ({Label})", _transport.Id, e.Channel!.Id, e.Channel.Parameters.Label);
                break;
            case DataChannelEventKind.Association when e.Association is { } a:
                switch (a.Kind)
                {
                    case SctpEventKind.Connected: SetState(SctpStateName.Connected); break;
                    case SctpEventKind.IncomingStreamsReset: _transport.OnSctpIncomingReset(a.Streams ?? []); break;
                    case SctpEventKind.Closed:
                    case SctpEventKind.Aborted:
                        _transport.Logger.LogInformation("transport {TransportId}: SCTP {Reason}", _transport.Id, a.Reason);
                        SetState(SctpStateName.Closed);
                        break;
                    case SctpEventKind.Failed:
                        _transport.Logger.LogWarning("transport {TransportId}: SCTP failed: {Reason}", _transport.Id, a.Reason);
                        SetState(SctpStateName.Failed);
                        break;
                }
                break;
        }
    }

    private void ArmTimer()
    {
        if (_released) return;
        var due = _endpoint.Association.NextTimeout;
        if (due == _timer.Due) return;
        if (due == TimeSpan.MaxValue) _timer.Stop();
        else _timer.Start(due);
    }

    private void SetState(SctpStateName state)
    {
        if (State == state) return;
        State = state;
        _onStateChange(state);
    }
}
