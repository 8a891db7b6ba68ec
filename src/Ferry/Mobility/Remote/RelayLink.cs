using Ferry.Loop;
using Ferry.Native;
using Ferry.Protocols.Net;
using Ferry.Transports;

namespace Ferry.Mobility.Remote;

/// <summary>
/// The target's end of a move's relay: a UDP socket that receives, from the source, the datagrams the
/// far end sent to the old address, and sends back what the imported transport sends the far end on a
/// tuple it knows only through the source. Until the import finished, what arrives waits here (bounded).
/// </summary>
internal sealed class RelayLink : IUdpReceiver, IDisposable
{
    private readonly UdpSocket _socket;
    // Before the snapshot names the source and token, frames wait with their sender; after, with their far end.
    private readonly Queue<(SockAddr Sender, TransportTuple FarEnd, byte[] Frame)> _pending = new();
    private readonly int _pendingCapacity;
    private readonly byte[] _frame = new byte[RelayFrame.HeaderLength + 65536];
    private SockAddr _source;
    private uint _token;
    private bool _tokenKnown;
    private WebRtcTransport? _transport;

    public RelayLink(Func<IUdpReceiver, UdpSocket> bind, int pendingCapacity)
    {
        _pendingCapacity = pendingCapacity;
        _socket = bind(this);
    }

    public System.Net.IPEndPoint LocalEndPoint => _socket.LocalEndPoint;

    /// <summary>Frames dropped: another move's token, malformed, not from the source, or beyond the pending bound.</summary>
    public long Dropped { get; private set; }

    /// <summary>Datagrams the source passed on from the far end.</summary>
    public long Received { get; private set; }

    /// <summary>Datagrams sent back for the far end.</summary>
    public long Sent { get; private set; }

    public bool Closed { get; private set; }

    /// <summary>The snapshot arrived: frames must come from the source's relay socket and carry the move's token.</summary>
    public void Expect(uint token, System.Net.IPEndPoint source)
    {
        _token = token;
        _source = SockAddr.From(source);
        _tokenKnown = true;
        // Frames that came before the snapshot were kept unchecked; those not from the source, or of another move, go now.
        var kept = _pending.Count;
        for (var i = 0; i < kept; i++)
        {
            var (sender, _, frame) = _pending.Dequeue();
            if (sender.Equals(_source) && RelayFrame.TryRead(frame, token, out var kind, out var farEnd, out _) && kind == RelayFrameKind.Datagram)
            {
                _pending.Enqueue((sender, farEnd, frame));
                Received++;
            }
            else Dropped++;
        }
    }

    /// <summary>The transport is live: hands it what waited, then everything as it arrives.</summary>
    public void Attach(WebRtcTransport transport)
    {
        _transport = transport;
        while (_pending.TryDequeue(out var item))
        {
            if (transport.Closed) break;
            transport.HandleRelayedDatagram(this, item.FarEnd, item.Frame.AsSpan(RelayFrame.HeaderLength));
        }
    }

    /// <summary>Sends <paramref name="datagram"/> to the far end <paramref name="farEnd"/> through the source.</summary>
    public bool Send(in TransportTuple farEnd, ReadOnlySpan<byte> datagram)
    {
        if (Closed || _source.IsEmpty || datagram.Length > _frame.Length - RelayFrame.HeaderLength) return false;
        RelayFrame.WriteHeader(_frame, RelayFrameKind.Datagram, _token, farEnd);
        datagram.CopyTo(_frame.AsSpan(RelayFrame.HeaderLength));
        Sent++;
        return _socket.SendTo(_frame.AsSpan(0, RelayFrame.HeaderLength + datagram.Length), _source);
    }

    /// <summary>Tells the source the far end's path moved here.</summary>
    public void SendPathMoved() => SendControl(RelayFrameKind.PathMoved);

    /// <summary>Sends the source a frame without payload (<see cref="RelayFrameKind.PathMoved"/>, <see cref="RelayFrameKind.DirectSeen"/>, <see cref="RelayFrameKind.Flush"/>).</summary>
    public void SendControl(RelayFrameKind kind)
    {
        if (Closed || _source.IsEmpty) return;
        RelayFrame.WriteHeader(_frame, kind, _token, default);
        _socket.SendTo(_frame.AsSpan(0, RelayFrame.HeaderLength), _source);
    }

    public void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from)
    {
        if (Closed) return;
        if (!_tokenKnown)
        {
            if (_pending.Count >= _pendingCapacity || data.Length < RelayFrame.HeaderLength) { Dropped++; return; }
            _pending.Enqueue((from, default, data.ToArray()));
            return;
        }
        if (!from.Equals(_source) || !RelayFrame.TryRead(data, _token, out var kind, out var farEnd, out var offset)) { Dropped++; return; }
        if (kind != RelayFrameKind.Datagram)
        {
            // The source's answers at a path switch: frames from it arrive in the order it sent them, so every
            // datagram it relayed before the answer has been handled here.
            if (kind == RelayFrameKind.OldPathDrained) _transport?.OnOldPathDrained();
            else if (kind == RelayFrameKind.Flushed) _transport?.OnRelayFlushed();
            else Dropped++;
            return;
        }
        Received++;
        if (_transport is { } transport) transport.HandleRelayedDatagram(this, farEnd, data[offset..]);
        else if (_pending.Count < _pendingCapacity) _pending.Enqueue((from, farEnd, data.ToArray()));
        else Dropped++;
    }

    public void Dispose()
    {
        if (Closed) return;
        Closed = true;
        _pending.Clear();
        _socket.Dispose();
    }
}
