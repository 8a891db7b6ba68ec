namespace Ferry.Mobility.Remote;

/// <summary>
/// What a transport brought in by a move between processes held back when the far end's path switched from the
/// source's relay to this process (<see cref="Transports.WebRtcTransport.PathSwitch"/>). Datagrams on the new path
/// wait, in order, until the source says the last ones on the old path are through (the relay adds a hop, so
/// without the wait the first on the new path overtake the last on the old one), both ways; a hold that ends
/// without that word (its time or room ran out) is counted, as its datagrams may then overtake or be overtaken.
/// </summary>
/// <param name="HeldFromFarEnd">Datagrams from the far end that arrived directly and waited for the old path's last ones.</param>
/// <param name="HeldToFarEnd">Datagrams to the far end that waited until what went through the relay before them had left the source.</param>
/// <param name="ReleasedByMarker">Holds ended by the source's word (the expected way).</param>
/// <param name="ReleasedByTimeout">Holds ended by <see cref="TransportImportOptions.PathSwitchHoldTime"/> (or the relay's end) before the source's word came.</param>
/// <param name="ReleasedWhenFull">Holds ended because <see cref="TransportImportOptions.PathSwitchHoldCapacity"/> was reached.</param>
public readonly record struct PathSwitchStats(long HeldFromFarEnd, long HeldToFarEnd, long ReleasedByMarker, long ReleasedByTimeout, long ReleasedWhenFull);
