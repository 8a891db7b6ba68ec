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
    private readonly List<(Rtp.Producer Original, Rtp.Producer Copy)> _replacedAtSource = [];
    private readonly List<Rtp.Consumer> _feedingAtSource = [];
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
    /// on here). Only transports of their own sockets (not on a WebRtcServer) on a UDP path with DTLS
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
            if (RemoteMoveObstacle() is { } obstacle) throw new InvalidStateException(obstacle);
            var pipeBack = options.PipeBack;
            if (pipeBack is not null && (pipeBack.Router != Router || pipeBack.Closed)) throw new InvalidStateException("pipeBack must be an open PipeTransport of this transport's router");
            var replaced = Producers.Where(p => p.Observers.Count > 0 || p.Consumers.Any(c => c.Transport != this && c.Transport != pipeBack)).ToList();
            if (replaced.Count > 0 && pipeBack is null)
                throw new InvalidStateException($"producers {string.Join(", ", replaced.Select(p => p.Id))} have consumers on other transports of this process: give a pipeBack to the target");
            // The loop handles nothing else from here: this is the instant the transport stops being live here.
            return FreezeForMove(options, System.Diagnostics.Stopwatch.GetTimestamp());
        });
    }

    /// <summary>Why this transport cannot be exported now (null when it can); on the loop.</summary>
    internal string? RemoteMoveObstacle()
    {
        if (_movingOut is not null) return "the transport is already moving to another process";
        if (_server is not null) return "a transport on a WebRtcServer does not move between processes";
        // A TCP listener the far end never used stays behind (the target listens on UDP); a TCP path cannot be relayed.
        if (_tupleRoutes.Values.Any(r => r.Tcp is not null)) return "a transport on an ICE-TCP path does not move between processes";
        if (_dtls is not { State: Protocols.Dtls.DtlsState.Connected } || !_selected.IsSet) return "the transport is not connected";
        return null;
    }

    /// <summary>
    /// Freezes the transport and writes it out, with a relay to <see cref="TransportExportOptions.TargetRelay"/> (the caller
    /// checked it movable and, for a pipe back, what it needs); on the loop. A router move freezes all its transports so in
    /// one command, <paramref name="frozenAt"/> being that instant.
    /// </summary>
    internal OutgoingTransportMove FreezeForMove(TransportExportOptions options, long frozenAt)
    {
        // Moved here a moment ago and moving on: what the last path switch held is handled and sent, so the snapshot has it.
        EndPathSwitchHolds();
        var pipeBack = options.PipeBack;
        var now = Loop.Now;
        var dtlsState = _dtls!.ExportState() ?? throw new InvalidStateException("the DTLS session cannot be exported (no SRTP keys: a data-only association)");
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
        if (pipeBack is not null) snapshot = snapshot with { PipedBack = ReplaceByPipedCopies(pipeBack) };
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
    }

    /// <summary>
    /// At the freeze: each of this transport's producers that consumers or observers elsewhere in this router
    /// read is replaced in the router, under the same id, by a producer on <paramref name="pipe"/> (the target
    /// will feed it with the SSRCs returned), and they switch to it; pipe consumers on that pipe of this
    /// transport's producers (feeding copies in the target) stay with the originals until the commit closes them
    /// (the originals go there), so that an abort leaves the copies fed.
    /// </summary>
    private List<PipedBackProducer> ReplaceByPipedCopies(PipeTransport pipe)
    {
        var pipedBack = new List<PipedBackProducer>();
        foreach (var original in Producers.ToList())
        {
            // Pipe consumers on that pipe feed the original's copies in the target. They stay with the original until the
            // commit: frozen, it gives them nothing, and if the move is aborted they go on feeding the copies (it closes them).
            _feedingAtSource.AddRange(original.Consumers.Where(c => c.Transport == pipe));
            var stayers = original.Consumers.Where(c => c.Transport != this && c.Transport != pipe).ToList();
            if (stayers.Count == 0 && original.Observers.Count == 0) continue;
            var ssrcBase = (uint)Random.Shared.NextInt64(100_000_000, 900_000_000);
            var rtxBase = (uint)Random.Shared.NextInt64(100_000_000, 900_000_000);
            var parameters = Ortc.RtpParametersNegotiation.GetPipeConsumerParameters(original.ConsumableRtpParameters, pipe.EnableRtx, ssrcBase, rtxBase);
            Router.RemoveProducer(original);
            var copy = pipe.ProduceOnLoop(new Rtp.ProducerOptions { Id = original.Id, Kind = original.Kind, RtpParameters = parameters, Paused = original.Paused },
                Ortc.RtpParametersValidation.ValidateForProducer(original.Kind, parameters));
            foreach (var consumer in stayers)
            {
                original.RemoveConsumer(consumer);
                copy.AddConsumer(consumer);
                consumer.SwitchSource(copy);
            }
            foreach (var observer in original.Observers.ToArray()) observer.SwapProducer(original, copy);
            _replacedAtSource.Add((original, copy));
            pipedBack.Add(new PipedBackProducer(original.Id, ssrcBase, rtxBase));
        }
        return pipedBack;
    }

    /// <summary>An aborted move: the originals take their consumers and observers back from the piped copies, which go.</summary>
    private void RestoreReplacedProducers()
    {
        foreach (var (original, copy) in _replacedAtSource)
        {
            foreach (var consumer in copy.Consumers.ToList())
            {
                copy.RemoveConsumer(consumer);
                original.AddConsumer(consumer);
                consumer.SwitchSource(original);
            }
            foreach (var observer in copy.Observers.ToArray()) observer.SwapProducer(copy, original);
            copy.Transport.CloseProducerOnLoop(copy, byTransport: false);
            Router.AddProducer(original);
        }
        _replacedAtSource.Clear();
        // The pipe consumers feeding the copies in the target were never closed: they go on.
        _feedingAtSource.Clear();
    }

    /// <summary>The target imported (or the move was aborted): the producers the frozen consumers read need not keep their packets for them.</summary>
    internal void ReleaseSourceHolds()
    {
        foreach (var producer in _heldAtSource) producer.ReleaseMoveHold();
        _heldAtSource = [];
    }

    /// <summary>
    /// The target imported: the holds go, the replaced originals stay out of the router (they go with this transport), and
    /// the pipe consumers that fed their copies in the target close.
    /// </summary>
    internal void OnMoveCommitted()
    {
        ReleaseSourceHolds();
        _replacedAtSource.Clear();
        // Closed as by the application (observer close only): their producer did not close, it moved, and the target
        // dropped its copy itself. An application that closes the other side on "producerclose" must not close the original.
        foreach (var feeding in _feedingAtSource) feeding.Transport.CloseConsumerOnLoop(feeding, Rtp.ConsumerCloseReason.Closed);
        _feedingAtSource.Clear();
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
    /// frozen for good, so they continue from the snapshot (as the target's would have). What the far end
    /// sent meanwhile comes after, by <see cref="ReplayAfterAbortedMove"/>: for a router, once every transport
    /// is live again (a packet for a consumer or data consumer on another of them must find it live).
    /// False when the transport is not frozen by this move (closed meanwhile).
    /// </summary>
    internal bool ThawAfterAbortedMove(OutgoingTransportMove move)
    {
        if (_movingOut != move || Closed) return false;
        _movingOut = null;
        var snapshot = move.Snapshot;
        Revive(snapshot.Dtls, snapshot.Sctp, snapshot.SctpState);
        RestoreReplacedProducers();
        if (_sctp is { } sctp) sctp.Frozen = false;
        _connected = _iceState is IceStateName.Connected or IceStateName.Completed;
        if (_connected) OnConnectedAfterMove();
        var now = Loop.Now;
        foreach (var consumer in Consumers) consumer.CatchUpAfterMove(now);
        ReleaseSourceHolds();
        return true;
    }

    /// <summary>After <see cref="ThawAfterAbortedMove"/>: what the far end sent since the freeze, handled now in order.</summary>
    internal void ReplayAfterAbortedMove((TransportTuple From, byte[] Data)[] kept)
    {
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
