using System.Text.Json;
using Ferry.Mobility.Remote;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Rooms;

/// <summary>
/// A room copied while it runs, and brought back from a copy on another node after its node died (the failover
/// issue): the router's checkpoint and the room's state are taken together under the room's lock, and the take-over
/// imports them as a room move's target does, with the peers waiting for their WebSockets and told their transports'
/// new candidates when they come.
/// </summary>
public sealed partial class Room
{
    /// <summary>
    /// The take-over's margins: the copy's age is measured from its arrival on this node, which a LAN delays by
    /// milliseconds, so 50 ms of slack covers it; every millisecond more is a jump of the RTP timestamps that the far
    /// end's jitter buffer waits out as a freeze. A video stream is assumed to send at least 300 packets a second
    /// (about 3 Mbit/s) beside twice its measured rate.
    /// </summary>
    internal static readonly TakeoverMargins TakeoverMargins = TakeoverMargins.Default with { Slack = TimeSpan.FromMilliseconds(50), VideoPacketRate = 300 };

    /// <summary>True when a broadcaster (PlainTransports, which have no snapshot yet) is in the room.</summary>
    public bool HasBroadcasters => _peers.Values.Any(p => p.IsBroadcaster && !p.Closed);

    /// <summary>Tells every joined peer the cluster's node URLs (where to reconnect if this node dies).</summary>
    internal void NotifyNodeUrls(IReadOnlyList<string> urls)
    {
        if (urls.Count < 2 || Closed || MovedTo is not null) return;
        foreach (var peer in JoinedPeers()) peer.Connection.Notify("ferryNodes", new { urls });
    }

    /// <summary>The router's checkpoint and the room's state, as JSON, taken at one instant while the room goes on.</summary>
    /// <exception cref="InvalidOperationException">The room closed or moved.</exception>
    internal async Task<(string Router, string State)> CheckpointAsync()
    {
        await _lock.WaitAsync();
        try
        {
            if (Closed || MovedTo is not null) throw new InvalidOperationException($"room {Id} is closed or moved");
            // Under the room's lock every object the state names exists in the router, and none the router has is missing from it.
            var state = JsonSerializer.Serialize(ExportState(), ServerJson.Options);
            var checkpoint = await Router.CheckpointAsync();
            return (SnapshotJson.Serialize(checkpoint), state);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Brings back a room whose node died from its copy (<paramref name="age"/> old): a new router on
    /// <paramref name="worker"/> takes over the checkpoint (sequence numbers and crypto counters carried past what
    /// the dead node may have sent), the room's peers wait for their WebSockets, and each is told its transports'
    /// candidates here (transportMoved) once it reconnects.
    /// </summary>
    internal static async Task<Room> TakeOverAsync(RoomState state, string routerJson, TimeSpan age, Worker worker, RoomSettings settings, ILogger logger)
    {
        if (state.Version != RoomState.CurrentVersion) throw new NotSupportedException($"RoomState version {state.Version} not supported");
        var checkpoint = SnapshotJson.DeserializeCheckpoint(routerJson);
        var router = await worker.CreateRouterAsync(new RouterOptions { MediaCodecs = settings.MediaCodecs });
        try
        {
            var imported = await router.TakeOverAsync(checkpoint, new TakeoverOptions
            {
                CopyAge = age,
                Margins = TakeoverMargins,
                ListenInfos = settings.WebRtcListenInfos(forceTcp: false).Where(l => l.Protocol == Ferry.Protocols.Ortc.TransportProtocolName.Udp).ToList(),
            });
            // A transport the copy left out (not connected yet when copied) is gone with the dead node: its peer's
            // session goes on without it (the page's transport fails, as on a server that lost it).
            var copied = imported.Transports.Select(t => t.Transport.Id).ToHashSet(StringComparer.Ordinal);
            foreach (var skipped in checkpoint.Skipped) logger.LogWarning("room {RoomId} taken over without {What}", state.RoomId, skipped);
            state = state with { Peers = state.Peers.Select(p => p with { Transports = p.Transports.Where(t => copied.Contains(t.Id)).ToList() }).ToList() };
            var room = await CreateImportedAsync(state, router, new RouterImportResult(imported.Transports, imported.RtpObservers), settings, logger);
            var byId = imported.Transports.ToDictionary(t => t.Transport.Id);
            foreach (var peer in room._peers.Values)
            {
                foreach (var id in peer.Transports.Keys)
                {
                    if (byId.TryGetValue(id, out var moved))
                        peer.Connection.Notify("transportMoved", new { transportId = id, iceParameters = moved.IceParameters, iceCandidates = moved.IceCandidates });
                }
            }
            return room;
        }
        catch
        {
            await router.CloseAsync();
            throw;
        }
    }
}
