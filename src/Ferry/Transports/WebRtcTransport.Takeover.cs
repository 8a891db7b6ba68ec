using Ferry.Mobility.Remote;
using Ferry.Protocols.Ice;
using Ferry.Protocols.Net;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Sctp;
using Ferry.Protocols.Srtp;

namespace Ferry.Transports;

/// <summary>
/// Failover: a copy of this transport taken while it runs (<see cref="CheckpointOnLoop"/>, for a standby), and a
/// transport brought to life from such a copy after its source died (<see cref="CreateTakenOver"/>): no relay, no
/// path-switch hold, the far end's tuples reached from this process's own socket at once.
/// </summary>
public sealed partial class WebRtcTransport
{
    // Set on a transport brought to life by a take-over until the far end's checks reach it.
    private TakeoverState? _takeover;

    /// <summary>
    /// What a take-over still has to do once live: ask for key frames when the far end's path arrives, and move the
    /// incoming SCTP state to where the far end is (the dead source acknowledged data the copy does not know of).
    /// </summary>
    private sealed class TakeoverState
    {
        public bool PathSeen;
        public bool MediaSeen;
        public SctpTakeoverResync? Sctp;
    }

    /// <summary>
    /// A copy of this transport, as a move would export it, taken while it runs (nothing freezes, nothing is spent);
    /// on the loop. Null, with the reason, when the transport cannot be brought back from a copy now.
    /// </summary>
    internal WebRtcTransportSnapshot? CheckpointOnLoop(TimeSpan now, out string? skipped)
    {
        skipped = RemoteMoveObstacle();
        if (skipped is not null) return null;
        var dtls = _dtls!.CheckpointState();
        if (dtls is null)
        {
            skipped = "the DTLS session has no SRTP keys (a data-only association)";
            return null;
        }
        DataChannelEndpointState? sctp = null;
        if (_sctp is { State: SctpStateName.Connected } link) sctp = link.Endpoint.Checkpoint(now);
        return new WebRtcTransportSnapshot
        {
            Id = Id,
            MoveToken = 0,
            SourceRelay = "",
            Ice = ExportIce(now),
            // A take-over generates the credentials it adds; these are the current ones, so a copy needs no secret of the future.
            NextIceParameters = _iceParameters,
            HighestLocalPreference = _highestLocalPreference,
            DtlsParameters = _dtlsParameters,
            Dtls = dtls,
            SrtpSend = _srtpSend?.Export(),
            SrtpReceive = _srtpReceive?.Export(),
            SctpParameters = _sctp?.Parameters,
            SctpSendBufferSize = _sctp?.SendBufferSize ?? 0,
            Sctp = sctp,
            SctpState = sctp is null ? null : SctpStateName.Connected,
            Core = ExportCore(),
            Producers = Producers.Select(p => p.ExportSnapshot(now)).ToList(),
            Consumers = Consumers.Select(c => c.ExportSnapshot(now)).ToList(),
            DataProducers = DataProducers.Select(p => p.ExportSnapshot(now)).ToList(),
            DataConsumers = DataConsumers.Select(c => c.ExportSnapshot(now)).ToList(),
        };
    }

    /// <summary>
    /// Makes a transport from a carried-forward copy (<see cref="TakeoverCarryForward"/>) on the router's loop, with new
    /// sockets that reach the far end's known tuples at once; ICE keeps the copy's credentials and adds
    /// <paramref name="snapshot"/>'s <see cref="WebRtcTransportSnapshot.NextIceParameters"/>.
    /// </summary>
    internal static WebRtcTransport CreateTakenOver(Router router, WebRtcTransportSnapshot snapshot, IReadOnlyList<TransportListenInfo> listenInfos, TimeSpan copyAge, TimeSpan sctpResyncWindow, TimeSpan sctpSettle)
    {
        if (listenInfos.Count == 0 || listenInfos.Any(i => i.Protocol != TransportProtocolName.Udp))
            throw new ArgumentException("a transport taken over listens on UDP listen infos only");
        var first = snapshot.HighestLocalPreference + 1 + 100 * (listenInfos.Count - 1);
        if (first > 65535) throw new InvalidStateException("the transport has moved too often for another candidate priority above the previous ones");
        var sctp = snapshot.SctpParameters;
        var transportOptions = new WebRtcTransportOptions
        {
            ListenInfos = listenInfos,
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
            transport.RestoreTakenOver(snapshot, copyAge, sctpResyncWindow, sctpSettle);
        }
        catch
        {
            transport._movedAway = true;
            transport.ReleaseResources();
            throw;
        }
        return transport;
    }

    private void RestoreTakenOver(WebRtcTransportSnapshot snapshot, TimeSpan copyAge, TimeSpan sctpResyncWindow, TimeSpan sctpSettle)
    {
        _connectCalled = true;
        _localRole = snapshot.Dtls.Role;
        _dtls = Protocols.Dtls.DtlsEndpoint.Import(snapshot.Dtls);
        DtlsRemoteCert = ToPem(snapshot.Dtls.RemoteCertificate);
        _dtlsState = DtlsStateName.Connected;
        if (snapshot.SrtpSend is { } send) _srtpSend = SrtpSession.Import(send);
        if (snapshot.SrtpReceive is { } receive) _srtpReceive = SrtpSession.Import(receive);
        // The far end's tuples as the source knew them, reached from this process's first socket: what is sent before the
        // far end's checks arrive here goes where it listens (a peer that accepts datagrams from a new address takes them).
        var socket = _sockets[0];
        foreach (var text in snapshot.Ice.Tuples)
        {
            var tuple = ParseTuple(text);
            _tupleRoutes[tuple] = new Route(socket, Native.SockAddr.From(tuple.ToEndPoint()));
        }
        _iceState = (IceStateName)(byte)snapshot.Ice.State;
        if (_ice.SelectedTuple is { } selected && _tupleRoutes.TryGetValue(selected, out var route))
        {
            _selected = route;
            _selectedTuple = TupleInfo(route, selected);
        }
        RestoreCore(snapshot.Core);
        _takeover = new TakeoverState
        {
            Sctp = snapshot.Sctp is not null ? new SctpTakeoverResync(Loop.Now, copyAge, Loop.Now + sctpResyncWindow, sctpSettle) : null,
        };
        ArmTimer();
    }

    /// <summary>Everything imported: live. Producers and the consumers' producers ask for key frames at once.</summary>
    internal void ConnectAfterTakeover(TransportCoreSnapshot core, int inboundStreams)
    {
        RestoreSctpStreamIds(core, inboundStreams);
        _connected = true;
        OnConnectedAfterMove();
        RequestKeyFramesAfterTakeover();
        Pump();
    }

    private void RequestKeyFramesAfterTakeover(bool afresh = false)
    {
        foreach (var producer in Producers) producer.RequestKeyFrameForAll(afresh);
        foreach (var producer in Consumers.Select(c => c.Producer).OfType<Rtp.Producer>().Distinct()) producer.RequestKeyFrameForAll(afresh);
    }

    /// <summary>
    /// The far end's first media after a take-over: it sends on its new path now, so a key frame it is asked for comes
    /// here. Asked afresh: the requests made before (at the take-over, at its first check) reached it while it still
    /// sent on its old path, and their pending second would hold this one back a second.
    /// </summary>
    private void OnTakeoverMedia()
    {
        if (_takeover is not { MediaSeen: false } takeover) return;
        takeover.MediaSeen = true;
        RequestKeyFramesAfterTakeover(afresh: true);
    }

    /// <summary>
    /// A check from the far end passed here directly after a take-over: its path arrived. The key frames asked for at
    /// the take-over went to its old path (a far end that drops datagrams from an address it never checked lost them): ask again.
    /// </summary>
    private void OnTakeoverCheck(TransportTuple tuple)
    {
        if (_takeover is not { PathSeen: false } takeover || _ice.SelectedTuple != tuple) return;
        takeover.PathSeen = true;
        RequestKeyFramesAfterTakeover(afresh: true);
    }

    /// <summary>
    /// One SCTP packet from the far end. After a take-over, until every channel's incoming stream is in step (or the
    /// resync window passed), the first DATA chunks decide where the far end is: the copy may be behind what the dead
    /// source acknowledged (<see cref="TakeoverCarryForward.ResyncSctpReceive"/>). Otherwise straight to the association.
    /// </summary>
    private void HandleSctpFromFarEnd(SctpLink sctp, ReadOnlySpan<byte> packet)
    {
        if (_takeover?.Sctp is not { Done: false } resync)
        {
            sctp.HandlePacket(packet);
            return;
        }
        switch (resync.Inspect(packet, Loop.Now, sctp, static l => l.Export()))
        {
            case SctpResyncVerdict.Held:
                ArmTimer();   // decide at the resync's deadline even if the far end sends nothing more
                return;
            case SctpResyncVerdict.Resynced:
                ContinueResynced(resync, sctp);
                return;
            default:
                sctp.HandlePacket(packet);
                return;
        }
    }

    /// <summary>On the transport's timer: the far end's held DATA waited long enough for its retransmission.</summary>
    private void PollSctpResync()
    {
        if (_takeover?.Sctp is { Done: false } resync && _sctp is { } sctp && resync.Poll(Loop.Now, sctp, static l => l.Export()) == SctpResyncVerdict.Resynced)
            ContinueResynced(resync, sctp);
    }

    private void ContinueResynced(SctpTakeoverResync resync, SctpLink sctp)
    {
        sctp.ReleaseSilently();
        _sctp = sctp = NewSctpLink(sctp.Parameters, sctp.SendBufferSize, resync.TakeResynced(), SctpStateName.Connected);
        foreach (var held in resync.TakeReplay()) sctp.HandlePacket(held);
    }

    /// <summary>After a take-over: times the incoming SCTP state was put in step with the far end (<see cref="TakeoverCarryForward.ResyncSctpReceive"/>).</summary>
    public int SctpResyncs => _takeover?.Sctp?.Resyncs ?? 0;
}
