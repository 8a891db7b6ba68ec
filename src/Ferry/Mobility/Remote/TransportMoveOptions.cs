using System.Net;
using Ferry.Transports;

namespace Ferry.Mobility.Remote;

/// <summary>How the source of a move between processes hands a <see cref="WebRtcTransport"/> over.</summary>
public sealed record TransportExportOptions
{
    /// <summary>The target's relay socket (<see cref="TransportImportSlot.RelayEndPoint"/>).</summary>
    public required IPEndPoint TargetRelay { get; init; }

    /// <summary>
    /// How long the old path must be quiet, after the target said the far end's path moved (its checks
    /// reach the target directly), before the source ends its relay: the far end switches a little after
    /// the target answered it, and what it sent on the old path meanwhile still arrives. Default 2 s.
    /// </summary>
    public TimeSpan RelayGracePeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The PipeTransport of this router connected to the target's router (the one named in
    /// <see cref="TransportImportOptions.PipeBack"/>). Needed when the transport's producers have consumers on
    /// other transports here (<see cref="TransportMovePlan.ProducersConsumedElsewhere"/>): at the handover each
    /// such producer is replaced here, under the same id, by a producer on this pipe that the target feeds
    /// back, and the consumers here switch to it (their streams stay continuous). Pipe consumers on this pipe
    /// of the transport's producers (which fed their copies in the target) are closed: the originals arrive there.
    /// </summary>
    public PipeTransport? PipeBack { get; init; }

    /// <summary>Datagrams kept, until <see cref="OutgoingTransportMove.CommitAsync"/>, to replay if the move is aborted. Default 4096.</summary>
    public int AbortReplayCapacity { get; init; } = 4096;
}

/// <summary>Where the target of a move between processes listens.</summary>
public sealed record TransportImportOptions
{
    /// <summary>Where the imported transport listens for the far end (UDP only), as for a new transport.</summary>
    public required IReadOnlyList<TransportListenInfo> ListenInfos { get; init; }

    /// <summary>The IP the relay socket binds (the source sends the far end's datagrams there). Default 127.0.0.1.</summary>
    public string RelayListenIp { get; init; } = "127.0.0.1";

    /// <summary>How long the target keeps its end of the relay after the far end's path moved. Default 2 s.</summary>
    public TimeSpan RelayGracePeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Datagrams the relay holds while the import runs (beyond, they are dropped and counted). Default 4096.</summary>
    public int PendingCapacity { get; init; } = 4096;

    /// <summary>
    /// When the far end's path switches from the source's relay to this process, the longest the transport holds what
    /// arrives on the new path (and what it sends there) until the source says the old path's last datagrams are
    /// through, so that none is overtaken. The source answers within a round trip between the two processes; this
    /// bound is for a source that never does. Default 100 ms.
    /// </summary>
    public TimeSpan PathSwitchHoldTime { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The most datagrams held at a path switch, each way (<see cref="PathSwitchHoldTime"/>); when full, all go at once. Default 128.</summary>
    public int PathSwitchHoldCapacity { get; init; } = 128;

    /// <summary>
    /// Producers of this router (piped here beforehand, with the same ids) that the moved transport's consumers
    /// read (<see cref="TransportMovePlan.ConsumedProducerIds"/>): from <see cref="Router.PrepareTransportImportAsync"/>
    /// until the import, they keep what they receive, and the imported consumers are given it once live.
    /// </summary>
    public IReadOnlyList<string> HoldProducerIds { get; init; } = [];

    /// <summary>
    /// The PipeTransport of this router connected to the source's router (the source's <see cref="TransportExportOptions.PipeBack"/>):
    /// the imported producers that consumers at the source still read are piped back on it, with the SSRCs the
    /// source's replacements expect, before anything the far end sent reaches them.
    /// </summary>
    public PipeTransport? PipeBack { get; init; }
}

/// <summary>What a move of a transport between processes needs beforehand.</summary>
/// <param name="ConsumedProducerIds">Producers its consumers read that are not its own: pipe each to the target's router (same id) before the move, and name them in <see cref="TransportImportOptions.HoldProducerIds"/>.</param>
/// <param name="ProducersConsumedElsewhere">Its own producers that consumers on other transports of this process read: the move needs <see cref="TransportExportOptions.PipeBack"/>.</param>
public sealed record TransportMovePlan(IReadOnlyList<string> ConsumedProducerIds, IReadOnlyList<string> ProducersConsumedElsewhere);

/// <summary>What the target of a move returns: what the far end must be told (ICE restart and a new candidate).</summary>
/// <param name="Transport">The imported transport, live.</param>
/// <param name="IceParameters">The credentials the far end restarts ICE with (the old ones keep working until it does).</param>
/// <param name="IceCandidates">The target's candidates, each with a priority above every candidate given before for this transport.</param>
public sealed record TransportImportResult(WebRtcTransport Transport, Ferry.Protocols.Ortc.IceParameters IceParameters, IReadOnlyList<Ferry.Protocols.Ortc.IceCandidate> IceCandidates);

/// <summary>How the source's side of a move ended.</summary>
/// <param name="TransportId">The transport.</param>
/// <param name="PathMoved">True when the far end's path moved to the target before the relay ended; false when the source closed first.</param>
/// <param name="DatagramsRelayedToTarget">Datagrams from the far end passed on to the target.</param>
/// <param name="DatagramsRelayedToFarEnd">Datagrams from the target passed on to the far end.</param>
/// <param name="ChecksDropped">Checks with the move's new credentials dropped at the old address (so the far end's ICE moves to the target's candidate).</param>
public sealed record OutgoingMoveResult(string TransportId, bool PathMoved, long DatagramsRelayedToTarget, long DatagramsRelayedToFarEnd, long ChecksDropped);
