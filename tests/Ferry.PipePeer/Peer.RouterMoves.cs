using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Ortc;
using Ferry.RtpObservers;
using Ferry.Transports;

namespace Ferry.PipePeer;

/// <summary>
/// Commands for moving the process's whole router to the other process's router (and back): the source's
/// plan, the target's relays, the source's export (the snapshot goes back as JSON), the target's import, the
/// source's commit or abort and the end of its relays; an audio-level observer to see that its membership
/// moved with the router (volumes it reports, counted per producer), and what the router holds.
/// </summary>
internal sealed partial class Peer
{
    private readonly Dictionary<string, RouterImportSlot> _routerSlots = [];
    private readonly Dictionary<string, OutgoingRouterMove> _routerMoves = [];
    private readonly HashSet<AudioLevelObserver> _heard = [];
    // Per producer id, how many volumes events named it (written on the worker's loop, read by commands).
    private readonly ConcurrentDictionary<string, int> _volumes = new();

    private async Task<JsonNode?> DispatchRouterMoveAsync(string method, JsonObject data) => method switch
    {
        "routerMovePlan" => await RouterMovePlanAsync().ConfigureAwait(false),
        "prepareRouterImport" => await PrepareRouterImportAsync(data).ConfigureAwait(false),
        "exportRouter" => await ExportRouterAsync(data).ConfigureAwait(false),
        "importRouter" => await ImportRouterAsync(data).ConfigureAwait(false),
        "commitRouterExport" => await Done(RouterMove(data).CommitAsync()).ConfigureAwait(false),
        "abortRouterExport" => await Done(RouterMove(data).AbortAsync()).ConfigureAwait(false),
        "waitRouterExportEnded" => await WaitRouterExportEndedAsync(data).ConfigureAwait(false),
        "createAudioLevelObserver" => await CreateAudioLevelObserverAsync(data).ConfigureAwait(false),
        "addObserverProducer" => await AddObserverProducerAsync(data).ConfigureAwait(false),
        "volumes" => Volumes(data),
        "routerDump" => await RouterDumpAsync().ConfigureAwait(false),
        _ => await DispatchTakeoverAsync(method, data).ConfigureAwait(false),
    };

    private async Task<JsonNode?> RouterMovePlanAsync()
    {
        var plan = await _router.GetRouterMovePlanAsync().ConfigureAwait(false);
        return new JsonObject { ["transportIds"] = Strings(plan.TransportIds), ["obstacles"] = Strings(plan.Obstacles) };
    }

    /// <summary>The target's first step: a relay per transport named; their addresses go back as <c>{transportId: {ip, port}}</c>.</summary>
    private async Task<JsonNode?> PrepareRouterImportAsync(JsonObject data)
    {
        var slot = await _router.PrepareRouterImportAsync(new RouterImportOptions
        {
            TransportIds = Required(data, "transportIds").AsArray().Select(n => n!.GetValue<string>()).ToList(),
            ListenInfos = [new TransportListenInfo { Ip = Loopback }],
            RelayListenIp = Loopback,
            RelayGracePeriod = TimeSpan.FromMilliseconds(data["graceMs"]?.GetValue<int>() ?? 2000),
        }).ConfigureAwait(false);
        var slotId = Guid.NewGuid().ToString("N");
        _routerSlots[slotId] = slot;
        var relays = new JsonObject();
        foreach (var (id, endPoint) in slot.RelayEndPoints) relays[id] = new JsonObject { ["ip"] = endPoint.Address.ToString(), ["port"] = endPoint.Port };
        return new JsonObject { ["slotId"] = slotId, ["relays"] = relays };
    }

    /// <summary>The source's step: the whole router frozen and written out; the snapshot goes back as JSON.</summary>
    private async Task<JsonNode?> ExportRouterAsync(JsonObject data)
    {
        var relays = Required(data, "relays").AsObject().ToDictionary(
            e => e.Key, e => new IPEndPoint(IPAddress.Parse(RequiredString(e.Value!.AsObject(), "ip")), Required(e.Value!.AsObject(), "port").GetValue<int>()));
        var move = await _router.ExportForMoveAsync(new RouterExportOptions
        {
            TargetRelays = relays,
            RelayGracePeriod = TimeSpan.FromMilliseconds(data["graceMs"]?.GetValue<int>() ?? 2000),
        }).ConfigureAwait(false);
        var moveId = Guid.NewGuid().ToString("N");
        _routerMoves[moveId] = move;
        var json = SnapshotJson.Serialize(move.Snapshot);
        return new JsonObject { ["moveId"] = moveId, ["snapshot"] = JsonNode.Parse(json), ["bytes"] = json.Length };
    }

    /// <summary>The target's second step: every transport from the snapshot; per transport, what its far end must be told.</summary>
    private async Task<JsonNode?> ImportRouterAsync(JsonObject data)
    {
        if (!_routerSlots.Remove(RequiredString(data, "slotId"), out var slot)) throw new ArgumentException("unknown slotId");
        var result = await slot.ImportAsync(SnapshotJson.DeserializeRouter(Required(data, "snapshot").ToJsonString())).ConfigureAwait(false);
        var transports = new JsonArray();
        foreach (var imported in result.Transports)
        {
            var transport = imported.Transport;
            _transports[transport.Id] = transport;
            foreach (var producer in await transport.GetProducersAsync().ConfigureAwait(false)) _producers[producer.Id] = producer;
            foreach (var dataProducer in await transport.GetDataProducersAsync().ConfigureAwait(false)) _dataProducers[dataProducer.Id] = dataProducer;
            transports.Add(new JsonObject
            {
                ["id"] = transport.Id,
                ["iceParameters"] = JsonSerializer.SerializeToNode(imported.IceParameters, OrtcJson.Default.IceParameters),
                ["iceCandidates"] = JsonSerializer.SerializeToNode(imported.IceCandidates, OrtcJson.Default.IReadOnlyListIceCandidate),
            });
        }
        foreach (var observer in result.RtpObservers.OfType<AudioLevelObserver>()) Hear(observer);
        return new JsonObject { ["transports"] = transports, ["rtpObserverIds"] = Strings(result.RtpObservers.Select(o => o.Id).ToList()) };
    }

    /// <summary>Waits until every relay of the router move ended; per transport, how.</summary>
    private async Task<JsonNode?> WaitRouterExportEndedAsync(JsonObject data)
    {
        var results = await RouterMove(data).Completed.WaitAsync(Timeout(data)).ConfigureAwait(false);
        _routerMoves.Remove(RequiredString(data, "moveId"));
        var array = new JsonArray();
        foreach (var result in results)
        {
            _transports.Remove(result.TransportId);
            array.Add(new JsonObject
            {
                ["transportId"] = result.TransportId,
                ["pathMoved"] = result.PathMoved,
                ["relayedToTarget"] = result.DatagramsRelayedToTarget,
                ["relayedToFarEnd"] = result.DatagramsRelayedToFarEnd,
            });
        }
        return new JsonObject { ["transports"] = array };
    }

    private async Task<JsonNode?> CreateAudioLevelObserverAsync(JsonObject data)
    {
        var observer = await _router.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions
        {
            MaxEntries = data["maxEntries"]?.GetValue<int>() ?? 1,
            Interval = data["interval"]?.GetValue<int>() ?? 1000,
        }).ConfigureAwait(false);
        Hear(observer);
        return new JsonObject { ["id"] = observer.Id };
    }

    private async Task<JsonNode?> AddObserverProducerAsync(JsonObject data)
    {
        var id = RequiredString(data, "observerId");
        var observer = _router.RtpObservers.FirstOrDefault(o => o.Id == id) ?? throw new ArgumentException("unknown observerId");
        await observer.AddProducerAsync(new RtpObserverAddRemoveProducerOptions { ProducerId = RequiredString(data, "producerId") }).ConfigureAwait(false);
        return null;
    }

    /// <summary>Counts, per producer id, the volumes events that named it (from the first observer event heard on; <c>reset</c> starts again).</summary>
    private JsonObject Volumes(JsonObject data)
    {
        var counts = new JsonObject();
        foreach (var (id, count) in _volumes) counts[id] = count;
        if (data["reset"]?.GetValue<bool>() == true) _volumes.Clear();
        return counts;
    }

    private void Hear(AudioLevelObserver observer)
    {
        // An observer the router had before (reused by a move back) is heard once.
        if (!_heard.Add(observer)) return;
        observer.Volumes += volumes =>
        {
            foreach (var volume in volumes) _volumes.AddOrUpdate(volume.Producer.Id, 1, (_, n) => n + 1);
        };
    }

    /// <summary>The router's transports, producers (with their consumers) and observers.</summary>
    private async Task<JsonNode?> RouterDumpAsync()
    {
        var dump = await _router.DumpAsync().ConfigureAwait(false);
        return new JsonObject
        {
            ["transportIds"] = Strings(dump.TransportIds),
            ["producerIds"] = Strings(dump.MapProducerIdConsumerIds.Keys.Order(StringComparer.Ordinal).ToList()),
            ["rtpObserverIds"] = Strings(dump.RtpObserverIds),
        };
    }

    private static JsonArray Strings(IReadOnlyList<string> values) => new(values.Select(v => (JsonNode)v).ToArray());

    private OutgoingRouterMove RouterMove(JsonObject data) =>
        _routerMoves.TryGetValue(RequiredString(data, "moveId"), out var move) ? move : throw new ArgumentException("unknown moveId");
}
