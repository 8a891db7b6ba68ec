using System.Net;
using Ferry.Loop;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Ice;
using Ferry.Protocols.Net;
using Ferry.Protocols.Ortc;

namespace Ferry.Transports;

/// <summary>
/// The source's side of a move of this transport to another process: freeze, write everything out as a
/// <see cref="WebRtcTransportSnapshot"/>, relay the far end's datagrams to the target until its path
/// moved there, then go without a word (the far end's DTLS session and streams live on at the target).
/// </summary>
public sealed partial class WebRtcTransport
{
    private OutgoingTransportMove? _movingOut;
    private List<Rtp.Producer> _heldAtSource = [];
    private bool _movedAway;
    private int _highestLocalPreference;

    /// <summary>The move to another process this transport is the source of, while its relay runs.</summary>
    public OutgoingTransportMove? OutgoingMove => _movingOut;

    /// <summary>What moving this transport to another process needs beforehand (feeds to make at the target) and what prevents it.</summary>
    public Task<TransportMovePlan> GetMovePlanAsync() => InvokeOpenAsync(() => MovePlan());

    private TransportMovePlan MovePlan()
    {
        var own = Producers.Select(p => p.Id).ToHashSet();
        return new TransportMovePlan(
            Consumers.Select(c => c.ProducerId).Where(id => !own.Contains(id)).Distinct().ToList(),
            Producers.Where(p => p.Consumers.Any(c => c.Transport != this)).Select(p => p.Id).ToList());
    }

    /// <summary>
    /// Hands this transport over to another process (the target prepared a
    /// <see cref="TransportImportSlot"/> and gave its relay address). At one instant on the worker's loop
    /// the transport is frozen and written out, with its producers, consumers, data producers and data
    /// consumers; from then on the far end's datagrams go to the target and the target's come back to
    /// the far end from this transport's socket. Give <see cref="OutgoingTransportMove.Snapshot"/> to the
    /// target's <see cref="TransportImportSlot.ImportAsync"/>, then <see cref="OutgoingTransportMove.CommitAsync"/>
    /// once it imported, or <see cref="OutgoingTransportMove.AbortAsync"/> if it failed (the transport lives
    /// on here). Only UDP transports of their own sockets (not on a WebRtcServer, no ICE-TCP) with DTLS
    /// connected move between processes.
    /// </summary>
    /// <exception cref="InvalidStateException">Closed, already moving, not connected, or not movable this way.</exception>
    public Task<OutgoingTransportMove> ExportForMoveAsync(TransportExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfClosed();
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            if (_movingOut is not null) throw new InvalidStateException("the transport is already moving to another process");
            if (_server is not null) throw new InvalidStateException("a transport on a WebRtcServer does not move between processes");
            if (_listeners.Count > 0 || _tupleRoutes.Values.Any(r => r.Tcp is not null)) throw new InvalidStateException("ICE-TCP transports do not move between processes");
            if (_dtls is not { State: Protocols.Dtls.DtlsState.Connected } dtls || !_selected.IsSet) throw new InvalidStateException("the transport is not connected");
            if (MovePlan().ProducersConsumedElsewhere is { Count: > 0 } consumed)
                throw new InvalidStateException($"producers {string.Join(", ", consumed)} have consumers on other transports of this process: they do not move between processes yet");
            // The loop handles nothing else from here: this is the instant the transport stops being live here.
            var frozenAt = System.Diagnostics.Stopwatch.GetTimestamp();
            var now = Loop.Now;
            var dtlsState = dtls.ExportState() ?? throw new InvalidStateException("the DTLS session cannot be exported (no SRTP keys: a data-only association)");
            Protocols.Sctp.DataChannelEndpointState? sctpState = null;
            OutgoingTransportMove? move = null;
            WebRtcTransportSnapshot snapshot;
            try
            {
                sctpState = _sctp is { State: not SctpStateName.New } link ? link.Export() : null;
                var (ufrag, password) = IceLiteAgent.GenerateCredentials();
                var settings = Router.Worker.Settings;
                var relayIp = _sockets[0].LocalEndPoint.Address;
                move = new OutgoingTransportMove(this, receiver => UdpSocket.Bind(Loop, relayIp, settings.RtcMinPort, settings.RtcMaxPort, receiver), options);
                snapshot = new WebRtcTransportSnapshot
                {
                    Id = Id,
                    MoveToken = move.Token,
                    SourceRelay = move.RelayEndPoint.ToString(),
                    Ice = ExportIce(now),
                    NextIceParameters = new IceParameters { UsernameFragment = ufrag, Password = password, IceLite = true },
                    HighestLocalPreference = _highestLocalPreference,
                    DtlsParameters = _dtlsParameters,
                    Dtls = dtlsState,
                    SrtpSend = _srtpSend?.Export(),
                    SrtpReceive = _srtpReceive?.Export(),
                    SctpParameters = _sctp?.Parameters,
                    SctpSendBufferSize = _sctp?.SendBufferSize ?? 0,
                    Sctp = sctpState,
                    SctpState = _sctp?.State,
                    Core = ExportCore(),
                    Producers = Producers.Select(p => p.ExportSnapshot(now)).ToList(),
                    Consumers = Consumers.Select(c => c.ExportSnapshot(now)).ToList(),
                    DataProducers = DataProducers.Select(p => p.ExportSnapshot(now)).ToList(),
                    DataConsumers = DataConsumers.Select(c => c.ExportSnapshot(now)).ToList(),
                };
            }
            catch
            {
                // Exporting froze DTLS (and SCTP): they go on from what was exported, and the transport stays as it was.
                move?.Discard();
                Revive(dtlsState, sctpState, _sctp?.State);
                throw;
            }
            move.Begin(snapshot, frozenAt);
            // Frozen: nothing here sends or changes state from now on; consumers see a transport that is not connected.
            // What their producers receive meanwhile is kept, for an abort to hand it to them.
            _heldAtSource = Consumers.Select(c => c.Producer).OfType<Rtp.Producer>().Distinct().ToList();
            foreach (var producer in _heldAtSource) producer.HoldForMove();
            _movingOut = move;
            _connected = false;
            if (_sctp is { } sctp) sctp.Frozen = true;
            _timer.Stop();
            return move;
        });
    }

    /// <summary>The target imported (or the move was aborted): the producers the frozen consumers read need not keep their packets for them.</summary>
    internal void ReleaseSourceHolds()
    {
        foreach (var producer in _heldAtSource) producer.ReleaseMoveHold();
        _heldAtSource = [];
    }

    /// <summary>Sends a datagram the target gave the relay to the far end <paramref name="farEnd"/>, on the route this transport validated for it.</summary>
    internal bool SendToFarEnd(in TransportTuple farEnd, ReadOnlySpan<byte> datagram) =>
        _tupleRoutes.TryGetValue(farEnd, out var route) && route.Send(datagram);

    /// <summary>The relay's grace period passed after the far end's path moved: the transport goes, silently.</summary>
    internal void CloseAfterMove()
    {
        _movedAway = true;
        CloseOnLoop(TransportCloseReason.Closed);
    }

    /// <summary>
    /// The target could not import: live again here. The exported DTLS endpoint and SCTP association are
    /// frozen for good, so they continue from the snapshot (as the target's would have); what the far end
    /// sent meanwhile is handled now, in order.
    /// </summary>
    internal void ThawAfterAbortedMove(OutgoingTransportMove move, (TransportTuple From, byte[] Data)[] kept)
    {
        if (_movingOut != move || Closed) return;
        _movingOut = null;
        var snapshot = move.Snapshot;
        Revive(snapshot.Dtls, snapshot.Sctp, snapshot.SctpState);
        if (_sctp is { } sctp) sctp.Frozen = false;
        _connected = _iceState is IceStateName.Connected or IceStateName.Completed;
        if (_connected) OnConnectedAfterMove();
        var now = Loop.Now;
        foreach (var consumer in Consumers) consumer.CatchUpAfterMove(now);
        ReleaseSourceHolds();
        foreach (var (from, data) in kept)
        {
            if (Closed) return;
            if (_tupleRoutes.TryGetValue(from, out var route)) HandlePacket(route, data, from);
        }
        Pump();
    }

    /// <summary>An exported DTLS endpoint and SCTP association are frozen for good: here they continue from their export, as a target's would.</summary>
    private void Revive(Protocols.Dtls.DtlsSessionState dtls, Protocols.Sctp.DataChannelEndpointState? sctp, SctpStateName? sctpState)
    {
        _dtls?.Dispose();
        _dtls = Protocols.Dtls.DtlsEndpoint.Import(dtls);
        if (_sctp is { } old && sctp is not null)
        {
            old.ReleaseSilently();
            _sctp = NewSctpLink(old.Parameters, old.SendBufferSize, sctp, sctpState ?? SctpStateName.New);
        }
    }

    private IceSnapshot ExportIce(TimeSpan now)
    {
        var state = _ice.Export();
        return new IceSnapshot
        {
            LocalUfrag = state.LocalUfrag, LocalPassword = state.LocalPassword,
            OldUfrag = state.OldUfrag, OldPassword = state.OldPassword,
            State = state.State,
            Tuples = state.Tuples.Select(t => t.ToEndPoint().ToString()).ToList(),
            Selected = state.Selected is { } selected ? selected.ToEndPoint().ToString() : null,
            LastNomination = state.LastNomination,
            ConsentTimeoutMs = (long)state.ConsentTimeout.TotalMilliseconds,
            ConsentRemainingMs = state.ConsentDeadline == TimeSpan.MaxValue ? null : (long)Math.Max(0, (state.ConsentDeadline - now).TotalMilliseconds),
        };
    }

    private static TransportTuple ParseTuple(string text) =>
        IPEndPoint.TryParse(text, out var endpoint) ? TransportTuple.From(endpoint) : throw new ArgumentException($"invalid tuple '{text}' in snapshot");
}
