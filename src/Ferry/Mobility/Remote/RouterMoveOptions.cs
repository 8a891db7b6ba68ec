using System.Net;
using Ferry.RtpObservers;
using Ferry.Transports;

namespace Ferry.Mobility.Remote;

/// <summary>What moving a router to another process involves, and what prevents it now (<see cref="Router.GetRouterMovePlanAsync"/>).</summary>
/// <param name="TransportIds">Its WebRtcTransports: the target prepares a relay for each (<see cref="RouterImportOptions.TransportIds"/>).</param>
/// <param name="Obstacles">Why an export now would be refused (empty when it would not): a transport of another kind, a transport not connected or already moving, producers piped to or from other routers of this process.</param>
public sealed record RouterMovePlan(IReadOnlyList<string> TransportIds, IReadOnlyList<string> Obstacles);

/// <summary>How the source of a router move between processes hands its router over.</summary>
public sealed record RouterExportOptions
{
    /// <summary>
    /// Per transport id, the target's relay socket for it (<see cref="RouterImportSlot.RelayEndPoints"/>). Must name
    /// exactly the router's WebRtcTransports at the freeze: a transport made or closed since the plan refuses the export.
    /// </summary>
    public required IReadOnlyDictionary<string, IPEndPoint> TargetRelays { get; init; }

    /// <summary>As <see cref="TransportExportOptions.RelayGracePeriod"/>, for every transport's relay. Default 2 s.</summary>
    public TimeSpan RelayGracePeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>As <see cref="TransportExportOptions.AbortReplayCapacity"/>, per transport. Default 4096.</summary>
    public int AbortReplayCapacity { get; init; } = 4096;
}

/// <summary>Where the target of a router move between processes listens, and whose observers take the moved membership.</summary>
public sealed record RouterImportOptions
{
    /// <summary>The transports that will come (<see cref="RouterMovePlan.TransportIds"/>): one relay socket is bound for each.</summary>
    public required IReadOnlyList<string> TransportIds { get; init; }

    /// <summary>Where every imported transport listens for its far end (UDP only).</summary>
    public required IReadOnlyList<TransportListenInfo> ListenInfos { get; init; }

    /// <summary>The IP the relay sockets bind. Default 127.0.0.1.</summary>
    public string RelayListenIp { get; init; } = "127.0.0.1";

    /// <summary>As <see cref="TransportImportOptions.RelayGracePeriod"/>, for every transport. Default 2 s.</summary>
    public TimeSpan RelayGracePeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>As <see cref="TransportImportOptions.PendingCapacity"/>, per transport. Default 4096.</summary>
    public int PendingCapacity { get; init; } = 4096;

    /// <summary>As <see cref="TransportImportOptions.PathSwitchHoldTime"/>, per transport. Default 100 ms.</summary>
    public TimeSpan PathSwitchHoldTime { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>As <see cref="TransportImportOptions.PathSwitchHoldCapacity"/>, per transport. Default 128.</summary>
    public int PathSwitchHoldCapacity { get; init; } = 128;

    /// <summary>
    /// Observers of this router (by the source observer's id) that take the membership of the snapshot's
    /// observers: what a room that made its own observers with its router gives. A snapshot observer not named
    /// here goes to this router's observer with the same id if there is one (the router it left earlier),
    /// else to a new observer of the same type, settings and id.
    /// </summary>
    public IReadOnlyDictionary<string, RtpObserver> RtpObservers { get; init; } = new Dictionary<string, RtpObserver>();
}

/// <summary>What the target of a router move returns: per transport, what its far end must be told; the observers that took the membership.</summary>
/// <param name="Transports">Per imported transport, live: its new ICE parameters and candidates (send each to its far end: ICE restart and a new candidate).</param>
/// <param name="RtpObservers">This router's observers that now watch the imported producers (made by the import or already here), in the snapshot's order.</param>
public sealed record RouterImportResult(IReadOnlyList<TransportImportResult> Transports, IReadOnlyList<RtpObserver> RtpObservers);
