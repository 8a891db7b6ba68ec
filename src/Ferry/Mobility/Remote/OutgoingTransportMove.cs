using System.Text;
using Ferry.Loop;
using Ferry.Native;
using Ferry.Protocols;
using Ferry.Protocols.Net;
using Ferry.Protocols.Stun;
using Ferry.Transports;

namespace Ferry.Mobility.Remote;

/// <summary>
/// The source's side of a move of a <see cref="WebRtcTransport"/> to another process, from the handover
/// on: the transport is frozen (its state went out in <see cref="Snapshot"/>), and every datagram the far
/// end sends to it is relayed to the target, which alone holds live state; what the target sends to
/// the far end comes back here and leaves from the transport's own socket, so the far end sees the
/// same path until it restarts ICE towards the target. Checks with the move's new credentials are
/// dropped here, so that the far end's ICE can only succeed at the target's candidate (Firefox keeps a
/// pair that succeeds with new credentials on the old address). The relay ends a grace period after
/// the target reports the far end's path moved; a far end that never moves keeps the relay for as long
/// as the source lives.
/// </summary>
public sealed class OutgoingTransportMove
{
    private readonly WebRtcTransport _transport;
    private readonly UdpSocket _socket;
    private readonly SockAddr _target;
    private byte[] _nextUfrag = [];
    private readonly TimeSpan _grace;
    private readonly byte[] _frame = new byte[RelayFrame.HeaderLength + 65536];
    private readonly Queue<(TransportTuple From, byte[] Data)>? _kept;
    private readonly int _keepCapacity;
    private readonly LoopTimer _graceTimer;
    private readonly TaskCompletionSource<OutgoingMoveResult> _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _committed;
    private bool _ended;

    internal OutgoingTransportMove(WebRtcTransport transport, Func<IUdpReceiver, UdpSocket> bindSocket, TransportExportOptions options)
    {
        _transport = transport;
        // Any value but 0 (never used, so a zeroed header is never taken for a frame of this move).
        Token = (uint)Random.Shared.NextInt64(1, uint.MaxValue);
        _target = SockAddr.From(options.TargetRelay);
        _grace = options.RelayGracePeriod;
        _keepCapacity = options.AbortReplayCapacity;
        _kept = _keepCapacity > 0 ? new Queue<(TransportTuple, byte[])>() : null;
        _socket = bindSocket(new Receiver(this));
        _graceTimer = transport.CreateOwnedTimer(End);
    }

    /// <summary>The transport's state at the handover: give it to the target's <see cref="TransportImportSlot.ImportAsync"/>.</summary>
    public WebRtcTransportSnapshot Snapshot { get; private set; } = null!;

    /// <summary>The <see cref="System.Diagnostics.Stopwatch"/> timestamp of the freeze (the handover's start).</summary>
    public long FrozenAtTimestamp { get; private set; }

    /// <summary>The snapshot is written: the relay knows which checks to drop.</summary>
    internal void Begin(WebRtcTransportSnapshot snapshot, long frozenAt)
    {
        FrozenAtTimestamp = frozenAt;
        Snapshot = snapshot;
        _nextUfrag = Encoding.UTF8.GetBytes(snapshot.NextIceParameters.UsernameFragment);
    }

    /// <summary>The move's token (relay frames carry it).</summary>
    internal uint Token { get; }

    /// <summary>The source's relay socket: the target sends what goes to the far end here.</summary>
    public System.Net.IPEndPoint RelayEndPoint => _socket.LocalEndPoint;

    /// <summary>Completes when the relay ended: the path moved and the grace period passed, or the source transport closed.</summary>
    public Task<OutgoingMoveResult> Completed => _completed.Task;

    /// <summary>Datagrams from the far end passed on to the target.</summary>
    public long RelayedToTarget { get; private set; }

    /// <summary>Datagrams from the target passed on to the far end.</summary>
    public long RelayedToFarEnd { get; private set; }

    /// <summary>Checks with the new credentials dropped at the old address.</summary>
    public long ChecksDropped { get; private set; }

    /// <summary>Relay frames dropped: not from the target, another move's token, malformed, or for a tuple the source never validated.</summary>
    public long FramesDropped { get; private set; }

    /// <summary>True once the far end's path moved (the target said so).</summary>
    public bool PathMoved { get; private set; }

    /// <summary>The target imported the transport: datagrams kept for an abort are let go.</summary>
    public Task CommitAsync() => _transport.InvokeAsync(() =>
    {
        _committed = true;
        _kept?.Clear();
        _transport.OnMoveCommitted();
    });

    /// <summary>
    /// The target could not import: the transport comes back to life here, with the datagrams relayed
    /// since the handover handed to it in order (up to <see cref="TransportExportOptions.AbortReplayCapacity"/>).
    /// </summary>
    /// <exception cref="InvalidStateException">Already committed or ended.</exception>
    public Task AbortAsync() => _transport.InvokeAsync(() => AbortOnLoop()());

    /// <summary>
    /// <see cref="AbortAsync"/> on the loop, but the datagrams kept come back as a step to run afterwards: a router's
    /// abort brings all its transports back to life before any is handed what its far end sent meanwhile.
    /// </summary>
    /// <exception cref="InvalidStateException">Already committed or ended.</exception>
    internal Action AbortOnLoop()
    {
        if (_committed || _ended) throw new InvalidStateException("the move was committed or has ended");
        _ended = true;
        _socket.Dispose();
        _transport.ReleaseOwnedTimer(_graceTimer);
        var kept = _kept is null ? [] : _kept.ToArray();
        _kept?.Clear();
        var thawed = _transport.ThawAfterAbortedMove(this);
        _completed.TrySetException(new InvalidStateException("move aborted"));
        return thawed ? () => _transport.ReplayAfterAbortedMove(kept) : () => { };
    }

    /// <summary>The export failed before the handover: the relay socket and timer go.</summary>
    internal void Discard()
    {
        _ended = true;
        _socket.Dispose();
        _transport.ReleaseOwnedTimer(_graceTimer);
    }

    /// <summary>A datagram from the far end reached the frozen transport: pass it on (or drop a check with the new credentials).</summary>
    internal void FromFarEnd(in TransportTuple from, ReadOnlySpan<byte> data)
    {
        if (_ended) return;
        if (PacketClassifier.Classify(data) == PacketKind.Stun && UsesNextCredentials(data))
        {
            ChecksDropped++;
            return;
        }
        RelayFrame.WriteHeader(_frame, RelayFrameKind.Datagram, Token, from);
        data.CopyTo(_frame.AsSpan(RelayFrame.HeaderLength));
        _socket.SendTo(_frame.AsSpan(0, RelayFrame.HeaderLength + data.Length), _target);
        RelayedToTarget++;
        // The far end still sends here after its path moved (its switch lags the target's answer, more so on a
        // busy machine): the relay lasts until the old path has been quiet for the grace period.
        if (PathMoved) _graceTimer.StartAfter(_grace);
        if (!_committed && _kept is not null && _kept.Count < _keepCapacity) _kept.Enqueue((from, data.ToArray()));
    }

    /// <summary>The source transport closed (or the source is going away): the relay ends now.</summary>
    internal void OnTransportClosed()
    {
        if (_ended) return;
        _ended = true;
        _socket.Dispose();
        _completed.TrySetResult(Result());
    }

    private bool UsesNextCredentials(ReadOnlySpan<byte> data)
    {
        if (!StunMessage.TryParse(data, out var message) || !message.TryGetUsername(out var username)) return false;
        var colon = username.IndexOf((byte)':');
        return colon > 0 && username[..colon].SequenceEqual(_nextUfrag);
    }

    private void FromTarget(Span<byte> frame, in SockAddr from)
    {
        if (_ended || !from.Equals(_target) || !RelayFrame.TryRead(frame, Token, out var kind, out var farEnd, out var offset))
        {
            FramesDropped++;
            return;
        }
        switch (kind)
        {
            case RelayFrameKind.Datagram:
                if (_transport.SendToFarEnd(farEnd, frame[offset..])) RelayedToFarEnd++;
                else FramesDropped++;
                break;
            case RelayFrameKind.PathMoved:
                if (!PathMoved)
                {
                    PathMoved = true;
                    _graceTimer.StartAfter(_grace);
                }
                break;
            case RelayFrameKind.DirectSeen:
                // The far end's datagrams reach the target directly: what it sent here before it switched is in this
                // transport's sockets (or relayed already). Relay it now, then say so; the target holds the new path till then.
                _transport.ReadQueuedFromFarEnd();
                Answer(RelayFrameKind.OldPathDrained);
                break;
            case RelayFrameKind.Flush:
                // Frames from the target are handled in order: whatever it relayed before this has left for the far end.
                Answer(RelayFrameKind.Flushed);
                break;
            default:
                FramesDropped++;
                break;
        }
    }

    /// <summary>A frame without payload to the target (its relay keeps the order of what this socket sends).</summary>
    private void Answer(RelayFrameKind kind)
    {
        if (_ended) return;
        RelayFrame.WriteHeader(_frame, kind, Token, default);
        _socket.SendTo(_frame.AsSpan(0, RelayFrame.HeaderLength), _target);
    }

    private void End()
    {
        if (_ended) return;
        // The transport goes without a word to the far end: its DTLS session and SRTP streams live on at the target.
        _transport.CloseAfterMove();
    }

    private OutgoingMoveResult Result() => new(_transport.Id, PathMoved, RelayedToTarget, RelayedToFarEnd, ChecksDropped);

    private sealed class Receiver(OutgoingTransportMove owner) : IUdpReceiver
    {
        public void OnDatagram(UdpSocket socket, Span<byte> data, in SockAddr from) => owner.FromTarget(data, from);
    }
}
