using Ferry.Loop;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Dtls;
using Ferry.Protocols.Ice;
using Ferry.Protocols.Net;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Srtp;

namespace Ferry.Transports;

/// <summary>
/// The target's side of a move of a transport from another process: the transport made from its
/// snapshot, reached through the source's relay until the far end's checks arrive here directly.
/// </summary>
public sealed partial class WebRtcTransport
{
    private RelayLink? _relayIn;
    private LoopTimer? _relayTimer;
    private bool _pathMovedSent;
    private TimeSpan _relayGrace;
    private readonly TaskCompletionSource _farEndPathMoved = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _firstRtpAfterImportPending;

    /// <summary>
    /// For a transport brought in by a move: the <see cref="System.Diagnostics.Stopwatch"/> timestamp of the
    /// first RTP packet it sent (0 until then). With <see cref="OutgoingTransportMove.FrozenAtTimestamp"/>, the handover's length.
    /// </summary>
    public long FirstRtpSentAfterImportTimestamp { get; private set; }

    private void NoteFirstRtpAfterImport()
    {
        _firstRtpAfterImportPending = false;
        FirstRtpSentAfterImportTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    /// <summary>
    /// For a transport brought in by a move between processes: completes when the far end's checks
    /// reached this process directly (it restarted ICE or took the new candidate), so the source's relay can end.
    /// </summary>
    public Task FarEndPathMoved => _farEndPathMoved.Task;

    /// <summary>True while the far end is reached, for some tuple, through the source's relay.</summary>
    public bool Relayed => _relayIn is { Closed: false };

    /// <summary>Datagrams the relay from the move's source carried to and from the far end (0 when none).</summary>
    public (long Received, long Sent, long Dropped) RelayCounters => _relayIn is { } r ? (r.Received, r.Sent, r.Dropped) : default;

    /// <summary>Makes a transport from <paramref name="snapshot"/> on the router's loop, with new sockets (the far end reaches them after its ICE restart) and the relay for the meantime.</summary>
    internal static WebRtcTransport CreateImported(Router router, WebRtcTransportSnapshot snapshot, TransportImportOptions options, RelayLink relay)
    {
        if (options.ListenInfos.Count == 0 || options.ListenInfos.Any(i => i.Protocol != TransportProtocolName.Udp))
            throw new ArgumentException("a transport moved between processes listens on UDP listen infos only");
        // Every candidate of the target goes above every candidate the far end was given before, in the listen infos' order.
        var first = snapshot.HighestLocalPreference + 1 + 100 * (options.ListenInfos.Count - 1);
        if (first > 65535) throw new InvalidStateException("the transport has moved too often for another candidate priority above the previous ones");
        var sctp = snapshot.SctpParameters;
        var transportOptions = new WebRtcTransportOptions
        {
            ListenInfos = options.ListenInfos,
            EnableSctp = sctp is not null,
            NumSctpStreams = sctp is null ? new NumSctpStreams { Os = 1024, Mis = 1024 } : new NumSctpStreams { Os = sctp.Os, Mis = sctp.Mis },
            MaxSctpMessageSize = sctp?.MaxMessageSize ?? 262_144,
            SctpSendBufferSize = snapshot.SctpSendBufferSize > 0 ? snapshot.SctpSendBufferSize : 262_144,
            IceConsentTimeout = (int)(snapshot.Ice.ConsentTimeoutMs / 1000),
            InitialAvailableOutgoingBitrate = Math.Max(snapshot.Core.AvailableOutgoingBitrate, 30_000),
        };
        var transport = new WebRtcTransport(router, transportOptions, snapshot);
        try
        {
            transport.Listen(transportOptions, first);
            transport.RestoreImported(snapshot, relay, options.RelayGracePeriod);
            transport.InitPathSwitch(options);
        }
        catch
        {
            transport._movedAway = true;
            transport.ReleaseResources();
            throw;
        }
        return transport;
    }

    /// <summary>
    /// Everything imported: the transport is connected. What the relay held meanwhile comes after, by
    /// <see cref="AttachRelayAfterImport"/>: for a router, once every transport is connected (a packet for a
    /// consumer or data consumer on another of them must find it live).
    /// </summary>
    internal void ConnectAfterImport(TransportCoreSnapshot core, int inboundStreams)
    {
        RestoreSctpStreamIds(core, inboundStreams);
        _connected = true;
        _firstRtpAfterImportPending = true;
        OnConnectedAfterMove();
        // What the producers the consumers read received since the freeze at the source (kept by the slot's holds).
        var now = Loop.Now;
        foreach (var consumer in Consumers) consumer.CatchUpAfterMove(now);
    }

    /// <summary>After <see cref="ConnectAfterImport"/>: what the relay held meanwhile is handled in order, then what it relays as it comes.</summary>
    internal void AttachRelayAfterImport()
    {
        _relayIn?.Attach(this);
        Pump();
    }

    /// <summary>The import failed after the transport was made: it goes without a word (the source lives on).</summary>
    internal void DiscardImported()
    {
        _movedAway = true;
        CloseOnLoop(TransportCloseReason.Closed);
    }

    /// <summary>One datagram of the far end <paramref name="farEnd"/> that reached the move's source and came through its relay.</summary>
    internal void HandleRelayedDatagram(RelayLink relay, in TransportTuple farEnd, Span<byte> data)
    {
        // The source relays until the old path has been quiet for its grace period; this end stays as long.
        _relayTimer?.StartAfter(_relayGrace);
        _lastRelayedAt = Loop.Now;
        HandlePacket(new Route(relay, farEnd), data, farEnd);
    }

    private static IceLiteAgent ImportIce(WebRtcTransportSnapshot snapshot, TimeSpan now)
    {
        var ice = snapshot.Ice;
        var agent = IceLiteAgent.Import(new IceLiteAgentState
        {
            LocalUfrag = ice.LocalUfrag, LocalPassword = ice.LocalPassword, OldUfrag = ice.OldUfrag, OldPassword = ice.OldPassword,
            State = ice.State,
            Tuples = ice.Tuples.Select(ParseTuple).ToList(),
            Selected = ice.Selected is { } selected ? ParseTuple(selected) : null,
            LastNomination = ice.LastNomination,
            ConsentTimeout = TimeSpan.FromMilliseconds(ice.ConsentTimeoutMs),
            ConsentDeadline = ice.ConsentRemainingMs is { } left ? TimeSpan.FromMilliseconds(left) : TimeSpan.MaxValue,
        }, clockShift: now);
        // The move's credentials: the far end restarts ICE with them; the ones it uses now keep working until it does.
        agent.Restart(snapshot.NextIceParameters.UsernameFragment, snapshot.NextIceParameters.Password, now);
        return agent;
    }

    private void RestoreImported(WebRtcTransportSnapshot snapshot, RelayLink relay, TimeSpan relayGrace)
    {
        _relayIn = relay;
        _relayGrace = relayGrace;
        _connectCalled = true;
        _localRole = snapshot.Dtls.Role;
        _dtls = DtlsEndpoint.Import(snapshot.Dtls);
        DtlsRemoteCert = ToPem(snapshot.Dtls.RemoteCertificate);
        _dtlsState = DtlsStateName.Connected;
        if (snapshot.SrtpSend is { } send) _srtpSend = SrtpSession.Import(send);
        if (snapshot.SrtpReceive is { } receive) _srtpReceive = SrtpSession.Import(receive);
        foreach (var text in snapshot.Ice.Tuples)
        {
            var tuple = ParseTuple(text);
            _tupleRoutes[tuple] = new Route(relay, tuple);
        }
        _iceState = (IceStateName)(byte)snapshot.Ice.State;
        if (_ice.SelectedTuple is { } selected && _tupleRoutes.TryGetValue(selected, out var route))
        {
            _selected = route;
            _selectedTuple = TupleInfo(route, selected);
        }
        RestoreCore(snapshot.Core);
        ArmTimer();
    }

    /// <summary>A check from the far end reached this process directly and its tuple is the selected one: the source may end its relay.</summary>
    private void OnFarEndPathMoved()
    {
        if (_relayIn is not { Closed: false } relay) return;
        // Said on every direct check until the relay ends, so one lost datagram does not keep the source relaying.
        relay.SendPathMoved();
        if (_pathMovedSent) return;
        _pathMovedSent = true;
        _farEndPathMoved.TrySetResult();
        _relayTimer = CreateOwnedTimer(ReleaseRelayIn);
        _relayTimer.StartAfter(_relayGrace);
    }

    /// <summary>The relay ends: tuples known only through it are forgotten.</summary>
    private void ReleaseRelayIn()
    {
        if (_relayIn is not { } relay) return;
        // What a path switch still holds goes first (or, on close, with the transport).
        EndPathSwitchHolds();
        _relayIn = null;
        if (_relayTimer is { } timer)
        {
            ReleaseOwnedTimer(timer);
            _relayTimer = null;
        }
        relay.Dispose();
        if (Closed) return;
        foreach (var (tuple, route) in _tupleRoutes.Where(e => e.Value.Relay == relay).ToList())
        {
            _tupleRoutes.Remove(tuple);
            _ice.RemoveTuple(tuple);
        }
        Pump();
    }
}
