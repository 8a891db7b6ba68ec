using Ferry.Loop;
using Ferry.Mobility.Remote;
using Ferry.Native;
using Ferry.Protocols;
using Ferry.Protocols.Net;

namespace Ferry.Transports;

/// <summary>
/// The far end's path switch after a move between processes, in order both ways. Until the switch, what the far
/// end sends reaches this transport through the source's relay and what it is sent goes back that way: one hop more
/// than the direct path. So at the switch the first datagrams on the new path would overtake the last ones on the
/// old path. This transport holds them back (bounded in count and time) until the source says the old path is through:
/// <list type="bullet">
/// <item>from the far end: the first datagram that arrives directly (not a check) starts a hold and a
/// <see cref="RelayFrameKind.DirectSeen"/> to the source, which relays what its sockets still hold and answers
/// <see cref="RelayFrameKind.OldPathDrained"/>; the relayed datagrams come first, then the held ones;</item>
/// <item>to the far end: the first datagram sent directly after ones sent through the relay starts a hold and a
/// <see cref="RelayFrameKind.Flush"/> behind them, which the source answers (<see cref="RelayFrameKind.Flushed"/>)
/// once it has sent them on; then the held ones go.</item>
/// </list>
/// </summary>
public sealed partial class WebRtcTransport
{
    // What the source reads from its sockets at once when the target asks (more than a switch leaves there).
    private const int MaxDrainedPerSocket = 1024;

    private TimeSpan _pathSwitchHoldTime;
    private int _pathSwitchHoldCapacity;
    private HeldDatagrams? _heldFromFarEnd;
    private HeldDatagrams? _heldToFarEnd;
    private LoopTimer? _pathSwitchTimer;
    // The far end's new path has been seen (and held, or found not to need it): what comes on it now is handled at once.
    private bool _farEndSwitched;
    private bool _lastSentThroughRelay;
    private TimeSpan _lastRelayedAt;
    private long _heldFromFarEndCount;
    private long _heldToFarEndCount;
    private long _releasedByMarker;
    private long _releasedByTimeout;
    private long _releasedWhenFull;

    /// <summary>What this transport, brought in by a move between processes, held back while the far end's path switched here (zeros otherwise).</summary>
    public PathSwitchStats PathSwitch => new(_heldFromFarEndCount, _heldToFarEndCount, _releasedByMarker, _releasedByTimeout, _releasedWhenFull);

    private enum HoldEnd { Marker, Timeout, Full }

    private void InitPathSwitch(TransportImportOptions options)
    {
        _pathSwitchHoldTime = options.PathSwitchHoldTime;
        _pathSwitchHoldCapacity = options.PathSwitchHoldCapacity;
        // The relay was carrying the far end's datagrams up to the freeze.
        _lastRelayedAt = Loop.Now;
    }

    /// <summary>
    /// A datagram that came directly from the far end while the relay still runs: true when it is held. Checks go on
    /// at once (the switch is made of them); the first other datagram from a validated tuple starts the hold, unless
    /// the old path has been quiet for longer than a hold lasts (then nothing can be behind it).
    /// </summary>
    private bool HoldFromFarEnd(UdpSocket socket, ReadOnlySpan<byte> data, in SockAddr from, in TransportTuple tuple)
    {
        if (_farEndSwitched || _movingOut is not null || Closed || _relayIn is not { Closed: false } relay) return false;
        if (PacketClassifier.Classify(data) == PacketKind.Stun || !_tupleRoutes.ContainsKey(tuple)) return false;
        if (_heldFromFarEnd is null)
        {
            var now = Loop.Now;
            if (_pathSwitchHoldCapacity == 0 || now - _lastRelayedAt > _pathSwitchHoldTime)
            {
                _farEndSwitched = true;
                return false;
            }
            _heldFromFarEnd = new HeldDatagrams(_pathSwitchHoldCapacity, now + _pathSwitchHoldTime);
            ArmPathSwitchTimer();
        }
        // Asked again with every datagram held, so one lost frame does not keep the hold to its deadline.
        relay.SendControl(RelayFrameKind.DirectSeen);
        if (_heldFromFarEnd.TryAdd(data, socket, from))
        {
            _heldFromFarEndCount++;
            return true;
        }
        ReleaseFromFarEnd(HoldEnd.Full);
        return false;
    }

    /// <summary>The source relayed what the far end sent on the old path before its switch: the held datagrams follow.</summary>
    internal void OnOldPathDrained()
    {
        if (_heldFromFarEnd is not null) ReleaseFromFarEnd(HoldEnd.Marker);
    }

    private void ReleaseFromFarEnd(HoldEnd end)
    {
        if (_heldFromFarEnd is not { } held) return;
        _heldFromFarEnd = null;
        _farEndSwitched = true;
        Count(end);
        for (var i = 0; i < held.Count && !Closed; i++)
        {
            var data = held.Get(i, out var socket, out var from);
            HandlePacket(new Route(socket!, from), data, from.ToTuple(TransportProtocol.Udp));
        }
        held.Dispose();
        ArmPathSwitchTimer();
    }

    /// <summary>
    /// Sends on the selected route, but holds what goes directly to the far end right after what went through the relay,
    /// until the source has sent that on (<see cref="RelayFrameKind.Flush"/>). Without a relay, one test.
    /// </summary>
    private void SendSelected(ReadOnlySpan<byte> datagram)
    {
        if (_relayIn is { Closed: false } relay && HoldToFarEnd(relay, datagram)) return;
        _selected.Send(datagram);
    }

    private bool HoldToFarEnd(RelayLink relay, ReadOnlySpan<byte> datagram)
    {
        if (_selected.Relay is not null)
        {
            _lastSentThroughRelay = true;
            return false;
        }
        if (_heldToFarEnd is null)
        {
            if (!_lastSentThroughRelay || _pathSwitchHoldCapacity == 0) return false;
            _lastSentThroughRelay = false;
            _heldToFarEnd = new HeldDatagrams(_pathSwitchHoldCapacity, Loop.Now + _pathSwitchHoldTime);
            ArmPathSwitchTimer();
        }
        // Behind everything relayed so far; asked again with every datagram held, so one lost frame does not keep the hold to its deadline.
        relay.SendControl(RelayFrameKind.Flush);
        if (_heldToFarEnd.TryAdd(datagram, null, default))
        {
            _heldToFarEndCount++;
            return true;
        }
        ReleaseToFarEnd(HoldEnd.Full);
        return false;
    }

    /// <summary>The source sent on everything relayed before the flush: the held datagrams go.</summary>
    internal void OnRelayFlushed()
    {
        if (_heldToFarEnd is not null) ReleaseToFarEnd(HoldEnd.Marker);
    }

    private void ReleaseToFarEnd(HoldEnd end)
    {
        if (_heldToFarEnd is not { } held) return;
        _heldToFarEnd = null;
        Count(end);
        for (var i = 0; i < held.Count && _selected.IsSet; i++) _selected.Send(held.Get(i, out _, out _));
        held.Dispose();
        ArmPathSwitchTimer();
    }

    /// <summary>
    /// Both holds end now (the relay ends, or the transport freezes for another move, whose state must include what
    /// was held): what was held is handled and sent, counted as not released by the source's word. On close, dropped.
    /// </summary>
    private void EndPathSwitchHolds()
    {
        if (Closed)
        {
            _heldFromFarEnd?.Dispose();
            _heldToFarEnd?.Dispose();
            _heldFromFarEnd = _heldToFarEnd = null;
        }
        else
        {
            ReleaseFromFarEnd(HoldEnd.Timeout);
            ReleaseToFarEnd(HoldEnd.Timeout);
        }
        if (_pathSwitchTimer is { } timer)
        {
            ReleaseOwnedTimer(timer);
            _pathSwitchTimer = null;
        }
    }

    private void ArmPathSwitchTimer()
    {
        var due = TimeSpan.MaxValue;
        if (_heldFromFarEnd is { } fromFarEnd) due = fromFarEnd.Deadline;
        if (_heldToFarEnd is { } toFarEnd && toFarEnd.Deadline < due) due = toFarEnd.Deadline;
        if (due == TimeSpan.MaxValue)
        {
            _pathSwitchTimer?.Stop();
            return;
        }
        _pathSwitchTimer ??= CreateOwnedTimer(OnPathSwitchTimer);
        if (_pathSwitchTimer.Due != due) _pathSwitchTimer.Start(due);
    }

    private void OnPathSwitchTimer()
    {
        var now = Loop.Now;
        if (_heldFromFarEnd is { } fromFarEnd && fromFarEnd.Deadline <= now) ReleaseFromFarEnd(HoldEnd.Timeout);
        if (_heldToFarEnd is { } toFarEnd && toFarEnd.Deadline <= now) ReleaseToFarEnd(HoldEnd.Timeout);
        ArmPathSwitchTimer();
    }

    private void Count(HoldEnd end)
    {
        switch (end)
        {
            case HoldEnd.Marker: _releasedByMarker++; break;
            case HoldEnd.Timeout: _releasedByTimeout++; break;
            default: _releasedWhenFull++; break;
        }
    }

    /// <summary>
    /// The source's side: the target asks for what the far end sent on the old path before switching. It is in this
    /// frozen transport's sockets (read now, so relayed before the answer) or was relayed already.
    /// </summary>
    internal void ReadQueuedFromFarEnd()
    {
        // By index: a datagram handled meanwhile may close the transport (and clear its sockets).
        for (var i = 0; i < _sockets.Count; i++) _sockets[i].ReadQueued(MaxDrainedPerSocket);
    }
}
