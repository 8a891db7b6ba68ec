using Ferry.Mobility.Remote;
using Ferry.RtpObservers;
using Ferry.Transports;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Rooms;

/// <summary>
/// A whole room moved by the path a move between servers takes: its router written out as data (every
/// transport with its producers, consumers and data channels) and brought to life in a router on another
/// worker, the far ends told the new ICE parameters and candidates (the protoo notification
/// <c>transportMoved</c>), the old sockets relaying until each far end switched. Inside one node this is
/// what an operator runs to try the cross-server path (and what the browser tests check); between nodes the
/// same snapshot travels through the cluster.
/// </summary>
public sealed partial class Room
{
    /// <summary>
    /// Moves the room's router to a new router on <paramref name="worker"/> through a snapshot. The room's
    /// objects keep their ids; its peers get <c>transportMoved</c> for each transport once the target is live.
    /// </summary>
    /// <exception cref="InvalidOperationException">The room cannot move this way now (several routers, a broadcaster, a transport not connected, ...): nothing changed.</exception>
    internal async Task<RoomRelocation> RelocateAsync(Worker worker)
    {
        await _lock.WaitAsync();
        try
        {
            if (Closed) throw new InvalidOperationException($"room {Id} is closed");
            if (Routers.Count != 1) throw new InvalidOperationException($"room {Id} has transports in {Routers.Count} routers: move them into one first");
            if (_peers.Values.Any(p => p.IsBroadcaster)) throw new InvalidOperationException($"room {Id} has a broadcaster: PlainTransports do not move between servers yet");
            var source = Router;
            if (source.Worker == worker) throw new InvalidOperationException($"room {Id} is already on worker {worker.Id}");
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var target = await worker.CreateRouterAsync(new RouterOptions { MediaCodecs = _settings.MediaCodecs });
            RouterImportResult imported;
            OutgoingRouterMove move;
            int snapshotBytes;
            TimeSpan frozen, serialising;
            try
            {
                // The clients loaded the router's capabilities once: the new router must offer the same ones.
                if (!SameCapabilities(source, target)) throw new InvalidOperationException("the target router's RTP capabilities differ from the source's");
                var plan = await source.GetRouterMovePlanAsync();
                if (plan.Obstacles.Count > 0) throw new InvalidOperationException($"room {Id} cannot move now: {string.Join("; ", plan.Obstacles)}");
                var slot = await target.PrepareRouterImportAsync(new RouterImportOptions { TransportIds = plan.TransportIds, ListenInfos = UdpListenInfos(), PathSwitchHoldTime = _settings.PathSwitchHoldTime });
                try
                {
                    move = await source.ExportForMoveAsync(new RouterExportOptions { TargetRelays = slot.RelayEndPoints });
                }
                catch
                {
                    await slot.DisposeAsync();
                    throw;
                }
                // Through JSON, as between servers: what cannot be written out does not move.
                var json = SnapshotJson.Serialize(move.Snapshot);
                snapshotBytes = json.Length;
                try
                {
                    var snapshot = SnapshotJson.DeserializeRouter(json);
                    serialising = System.Diagnostics.Stopwatch.GetElapsedTime(move.FrozenAtTimestamp);
                    imported = await slot.ImportAsync(snapshot);
                    frozen = System.Diagnostics.Stopwatch.GetElapsedTime(move.FrozenAtTimestamp);
                }
                catch
                {
                    await move.AbortAsync();
                    throw;
                }
                await move.CommitAsync();
            }
            catch (Exception e) when (e is not InvalidOperationException)
            {
                await target.CloseAsync();
                throw new InvalidOperationException($"room {Id} did not move: {e.Message}", e);
            }
            catch
            {
                await target.CloseAsync();
                throw;
            }
            var handover = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            await AdoptAsync(target, imported);
            // The source's transports relay until their far ends switched (or for good, for one that never does):
            // its router goes when the last relay ended.
            _ = move.Completed.ContinueWith(_ => source.CloseAsync(), TaskScheduler.Default).Unwrap();
            _logger.LogInformation("room {RoomId} moved by snapshot from worker {From} to {To}: {Transports} transports, {Bytes} bytes, frozen {Frozen:F1} ms, in all {Ms:F1} ms",
                Id, source.Worker.Id, worker.Id, imported.Transports.Count, snapshotBytes, frozen.TotalMilliseconds, handover.TotalMilliseconds);
            return new RoomRelocation(Id, source.Id, target.Id, source.Worker.Id, worker.Id, imported.Transports.Count, snapshotBytes, frozen, serialising, handover);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The moved objects replace the old ones in the room's maps (same ids), wired as new ones are; each peer hears where its transports live now.</summary>
    private async Task AdoptAsync(Router target, RouterImportResult imported)
    {
        var old = Router;
        var oldObserver = AudioLevels;
        Router = target;
        AudioLevels = imported.RtpObservers.OfType<AudioLevelObserver>().FirstOrDefault(o => o.Id == oldObserver.Id)
            ?? await target.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { MaxEntries = 1, Threshold = -80, Interval = 800 });
        WireAudioLevels(AudioLevels);
        var byId = imported.Transports.ToDictionary(t => t.Transport.Id);
        foreach (var peer in _peers.Values)
        {
            foreach (var (id, entry) in peer.Transports.ToList())
            {
                if (!byId.TryGetValue(id, out var moved)) continue;
                // The old objects are still in the peer's maps: their appData goes to their successors.
                var was = peer;
                await AdoptTransportAsync(peer, moved.Transport, entry.Producing, entry.Consuming, entry.Connected, entry.Transport.AppData, (kind, objectId) => kind switch
                {
                    "producer" => was.Producers.TryGetValue(objectId, out var p) ? p.AppData : null,
                    "consumer" => was.Consumers.TryGetValue(objectId, out var c) ? c.AppData : null,
                    "dataProducer" => was.DataProducers.TryGetValue(objectId, out var dp) ? dp.AppData : null,
                    _ => was.DataConsumers.TryGetValue(objectId, out var dc) ? dc.AppData : null,
                });
                peer.Connection.Notify("transportMoved", new { transportId = id, iceParameters = moved.IceParameters, iceCandidates = moved.IceCandidates });
            }
        }
        _logger.LogDebug("room {RoomId}: router {Old} replaced by {New}", Id, old.Id, target.Id);
    }

    private IReadOnlyList<TransportListenInfo> UdpListenInfos() =>
        _settings.WebRtcListenInfos(forceTcp: false).Where(l => l.Protocol == Ferry.Protocols.Ortc.TransportProtocolName.Udp).ToList();

    private static bool SameCapabilities(Router a, Router b) =>
        System.Text.Json.JsonSerializer.Serialize(a.RtpCapabilities, ServerJson.Options) == System.Text.Json.JsonSerializer.Serialize(b.RtpCapabilities, ServerJson.Options);
}

/// <summary>What a room's move by snapshot did.</summary>
/// <param name="RoomId">The room.</param>
/// <param name="FromRouterId">Its router before.</param>
/// <param name="ToRouterId">Its router now.</param>
/// <param name="FromWorkerId">The worker it left.</param>
/// <param name="ToWorkerId">The worker it is on.</param>
/// <param name="Transports">Transports moved.</param>
/// <param name="SnapshotBytes">Size of the snapshot as JSON (UTF-16 characters).</param>
/// <param name="FrozenTime">From the freeze at the source to the target live: media waits (relayed, held) for this long.</param>
/// <param name="SerialisingTime">Of <paramref name="FrozenTime"/>, from the freeze to the snapshot written out and read back.</param>
/// <param name="HandoverTime">From the start of the move (target router made, relays bound) to the target live.</param>
public sealed record RoomRelocation(string RoomId, string FromRouterId, string ToRouterId, string FromWorkerId, string ToWorkerId, int Transports, int SnapshotBytes,
    TimeSpan FrozenTime, TimeSpan SerialisingTime, TimeSpan HandoverTime);
