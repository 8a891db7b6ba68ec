using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Data;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Ortc;
using Ferry.Transports;

namespace Ferry.PipePeer;

/// <summary>
/// Commands for WebRTC transports and their moves between processes: create and connect a transport,
/// data producers and consumers on it, and the three steps of a move (the target prepares a relay, the
/// source exports a snapshot, the target imports it), with the snapshot carried as JSON by the test.
/// </summary>
internal sealed partial class Peer
{
    private readonly Dictionary<string, TransportImportSlot> _slots = [];
    private readonly Dictionary<string, DataProducer> _dataProducers = [];

    private async Task<JsonNode?> DispatchMoveAsync(string method, JsonObject data) => method switch
    {
        "createWebRtcTransport" => await CreateWebRtcTransportAsync(data).ConfigureAwait(false),
        "connectWebRtcTransport" => await Done(WebRtc(data).ConnectAsync(Required(data, "dtlsParameters").Deserialize(OrtcJson.Default.DtlsParameters)!)).ConfigureAwait(false),
        "produceData" => await ProduceDataAsync(data).ConfigureAwait(false),
        "consumeData" => await ConsumeDataAsync(data).ConfigureAwait(false),
        "prepareImport" => await PrepareImportAsync(data).ConfigureAwait(false),
        "exportTransport" => await ExportTransportAsync(data).ConfigureAwait(false),
        "importTransport" => await ImportTransportAsync(data).ConfigureAwait(false),
        "commitExport" => await Done(Outgoing(data).CommitAsync()).ConfigureAwait(false),
        "abortExport" => await Done(Outgoing(data).AbortAsync()).ConfigureAwait(false),
        "waitPathMoved" => await WaitAsync(WebRtc(data).FarEndPathMoved, data).ConfigureAwait(false),
        "waitExportEnded" => await WaitExportEndedAsync(data).ConfigureAwait(false),
        "webRtcTransport" => WebRtcState(WebRtc(data)),
        "movePlan" => await MovePlanAsync(data).ConfigureAwait(false),
        _ => await DispatchRouterMoveAsync(method, data).ConfigureAwait(false),
    };

    private async Task<JsonNode?> CreateWebRtcTransportAsync(JsonObject data)
    {
        var transport = await _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions
        {
            ListenInfos = [new TransportListenInfo { Ip = Loopback }],
            EnableSctp = data["enableSctp"]?.GetValue<bool>() ?? false,
        }).ConfigureAwait(false);
        _transports[transport.Id] = transport;
        return new JsonObject
        {
            ["id"] = transport.Id,
            ["iceParameters"] = JsonSerializer.SerializeToNode(transport.IceParameters, OrtcJson.Default.IceParameters),
            ["iceCandidates"] = JsonSerializer.SerializeToNode(transport.IceCandidates, OrtcJson.Default.IReadOnlyListIceCandidate),
            ["dtlsParameters"] = JsonSerializer.SerializeToNode(transport.DtlsParameters, OrtcJson.Default.DtlsParameters),
            ["sctpParameters"] = transport.SctpParameters is { } sctp ? JsonSerializer.SerializeToNode(sctp, OrtcJson.Default.SctpParameters) : null,
        };
    }

    private async Task<JsonNode?> ProduceDataAsync(JsonObject data)
    {
        var producer = await Transport(data).ProduceDataAsync(new DataProducerOptions
        {
            SctpStreamParameters = Required(data, "sctpStreamParameters").Deserialize(OrtcJson.Default.SctpStreamParameters),
            Label = data["label"]?.GetValue<string>() ?? "",
        }).ConfigureAwait(false);
        _dataProducers[producer.Id] = producer;
        return new JsonObject { ["id"] = producer.Id };
    }

    private async Task<JsonNode?> ConsumeDataAsync(JsonObject data)
    {
        var consumer = await Transport(data).ConsumeDataAsync(new DataConsumerOptions { DataProducerId = RequiredString(data, "dataProducerId") }).ConfigureAwait(false);
        return new JsonObject
        {
            ["id"] = consumer.Id,
            ["sctpStreamParameters"] = consumer.SctpStreamParameters is { } p ? JsonSerializer.SerializeToNode(p, OrtcJson.Default.SctpStreamParameters) : null,
        };
    }

    /// <summary>The target's first step: a relay socket for the source.</summary>
    private async Task<JsonNode?> PrepareImportAsync(JsonObject data)
    {
        var slot = await _router.PrepareTransportImportAsync(new TransportImportOptions
        {
            ListenInfos = [new TransportListenInfo { Ip = Loopback }],
            RelayListenIp = Loopback,
            RelayGracePeriod = TimeSpan.FromMilliseconds(data["graceMs"]?.GetValue<int>() ?? 2000),
            PathSwitchHoldTime = TimeSpan.FromMilliseconds(data["pathSwitchHoldMs"]?.GetValue<int>() ?? 100),
            PathSwitchHoldCapacity = data["pathSwitchHoldCapacity"]?.GetValue<int>() ?? 128,
            HoldProducerIds = data["holdProducerIds"]?.AsArray().Select(n => n!.GetValue<string>()).ToList() ?? [],
            PipeBack = PipeOrNull(data),
        }).ConfigureAwait(false);
        var slotId = Guid.NewGuid().ToString("N");
        _slots[slotId] = slot;
        return new JsonObject { ["slotId"] = slotId, ["relayIp"] = slot.RelayEndPoint.Address.ToString(), ["relayPort"] = slot.RelayEndPoint.Port };
    }

    /// <summary>The source's step: freeze, export, relay to the target; the snapshot goes back as JSON.</summary>
    private async Task<JsonNode?> ExportTransportAsync(JsonObject data)
    {
        var move = await WebRtc(data).ExportForMoveAsync(new TransportExportOptions
        {
            TargetRelay = new IPEndPoint(IPAddress.Parse(RequiredString(data, "relayIp")), Required(data, "relayPort").GetValue<int>()),
            RelayGracePeriod = TimeSpan.FromMilliseconds(data["graceMs"]?.GetValue<int>() ?? 2000),
            PipeBack = PipeOrNull(data),
        }).ConfigureAwait(false);
        var json = SnapshotJson.Serialize(move.Snapshot);
        return new JsonObject { ["snapshot"] = JsonNode.Parse(json), ["bytes"] = json.Length };
    }

    /// <summary>The target's second step: the transport from the snapshot; what the far end must be told goes back.</summary>
    private async Task<JsonNode?> ImportTransportAsync(JsonObject data)
    {
        var slotId = RequiredString(data, "slotId");
        if (!_slots.Remove(slotId, out var slot)) throw new ArgumentException("unknown slotId");
        var snapshot = SnapshotJson.Deserialize(Required(data, "snapshot").ToJsonString());
        var result = await slot.ImportAsync(snapshot).ConfigureAwait(false);
        _transports[result.Transport.Id] = result.Transport;
        return new JsonObject
        {
            ["id"] = result.Transport.Id,
            ["iceParameters"] = JsonSerializer.SerializeToNode(result.IceParameters, OrtcJson.Default.IceParameters),
            ["iceCandidates"] = JsonSerializer.SerializeToNode(result.IceCandidates, OrtcJson.Default.IReadOnlyListIceCandidate),
        };
    }

    private async Task<JsonNode?> MovePlanAsync(JsonObject data)
    {
        var plan = await WebRtc(data).GetMovePlanAsync().ConfigureAwait(false);
        return new JsonObject
        {
            ["consumedProducerIds"] = new JsonArray(plan.ConsumedProducerIds.Select(id => (JsonNode)id).ToArray()),
            ["producersConsumedElsewhere"] = new JsonArray(plan.ProducersConsumedElsewhere.Select(id => (JsonNode)id).ToArray()),
        };
    }

    private async Task<JsonNode?> WaitExportEndedAsync(JsonObject data)
    {
        var move = Outgoing(data);
        var result = await move.Completed.WaitAsync(Timeout(data)).ConfigureAwait(false);
        _transports.Remove(result.TransportId);
        return new JsonObject
        {
            ["pathMoved"] = result.PathMoved,
            ["relayedToTarget"] = result.DatagramsRelayedToTarget,
            ["relayedToFarEnd"] = result.DatagramsRelayedToFarEnd,
            ["checksDropped"] = result.ChecksDropped,
        };
    }

    private static async Task<JsonNode?> WaitAsync(Task task, JsonObject data)
    {
        await task.WaitAsync(Timeout(data)).ConfigureAwait(false);
        return null;
    }

    private static JsonNode WebRtcState(WebRtcTransport t)
    {
        var (received, sent, dropped) = t.RelayCounters;
        return new JsonObject
        {
            ["closed"] = t.Closed,
            ["iceState"] = t.IceState.ToString(),
            ["dtlsState"] = t.DtlsState.ToString(),
            ["srtpFailures"] = t.SrtpFailures,
            ["unknownTupleDrops"] = t.UnknownTupleDrops,
            ["relayed"] = t.Relayed,
            ["relayReceived"] = received,
            ["relaySent"] = sent,
            ["relayDropped"] = dropped,
            ["moving"] = t.OutgoingMove is not null,
            ["pathSwitch"] = new JsonObject
            {
                ["heldFromFarEnd"] = t.PathSwitch.HeldFromFarEnd,
                ["heldToFarEnd"] = t.PathSwitch.HeldToFarEnd,
                ["releasedByMarker"] = t.PathSwitch.ReleasedByMarker,
                ["releasedByTimeout"] = t.PathSwitch.ReleasedByTimeout,
                ["releasedWhenFull"] = t.PathSwitch.ReleasedWhenFull,
            },
        };
    }

    /// <summary>The PipeTransport named by <c>pipeTransportId</c>, when given.</summary>
    private PipeTransport? PipeOrNull(JsonObject data) => data["pipeTransportId"]?.GetValue<string>() is { } id
        ? _transports.TryGetValue(id, out var t) && t is PipeTransport pipe ? pipe : throw new ArgumentException("unknown pipeTransportId")
        : null;

    private static TimeSpan Timeout(JsonObject data) => TimeSpan.FromMilliseconds(data["timeoutMs"]?.GetValue<int>() ?? 10_000);

    private WebRtcTransport WebRtc(JsonObject data) => Transport(data) as WebRtcTransport ?? throw new ArgumentException("not a WebRTC transport");

    private OutgoingTransportMove Outgoing(JsonObject data) => WebRtc(data).OutgoingMove ?? throw new ArgumentException("the transport is not moving out");
}
