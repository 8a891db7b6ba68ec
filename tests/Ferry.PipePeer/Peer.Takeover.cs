using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Ortc;
using Ferry.RtpObservers;
using Ferry.Transports;

namespace Ferry.PipePeer;

/// <summary>
/// Commands for failover: the router's copy for a standby (<c>checkpointRouter</c>, the copy goes back as JSON), and the
/// standby's take-over from a copy (<c>takeOverRouter</c>, with the copy's age as the test measured it and, to check the
/// test can fail, margins of its own: all zeros switch the carry-forward off).
/// </summary>
internal sealed partial class Peer
{
    private async Task<JsonNode?> DispatchTakeoverAsync(string method, JsonObject data) => method switch
    {
        "checkpointRouter" => await CheckpointRouterAsync().ConfigureAwait(false),
        "takeOverRouter" => await TakeOverRouterAsync(data).ConfigureAwait(false),
        "takeoverState" => TakeoverState(WebRtcFor(data)),
        _ => throw new ArgumentException($"unknown method '{method}'"),
    };

    private async Task<JsonNode?> CheckpointRouterAsync()
    {
        var checkpoint = await _router.CheckpointAsync().ConfigureAwait(false);
        var json = SnapshotJson.Serialize(checkpoint);
        return new JsonObject { ["checkpoint"] = JsonNode.Parse(json), ["bytes"] = json.Length, ["sequence"] = checkpoint.Sequence };
    }

    private async Task<JsonNode?> TakeOverRouterAsync(JsonObject data)
    {
        var checkpoint = SnapshotJson.DeserializeCheckpoint(Required(data, "checkpoint").ToJsonString());
        var margins = data["margins"] is JsonObject m ? m.Deserialize<TakeoverMargins>(SnapshotJson.Options) ?? TakeoverMargins.Default : TakeoverMargins.Default;
        var result = await _router.TakeOverAsync(checkpoint, new TakeoverOptions
        {
            ListenInfos = [new TransportListenInfo { Ip = Loopback }],
            CopyAge = TimeSpan.FromMilliseconds(Required(data, "ageMs").GetValue<double>()),
            Margins = margins,
        }).ConfigureAwait(false);
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
        return new JsonObject { ["transports"] = transports, ["sequence"] = result.Sequence };
    }

    /// <summary>What a transport taken over counted: SRTP failures (authentication and replay), SCTP resyncs, DTLS and SCTP state.</summary>
    private static JsonObject TakeoverState(WebRtcTransport t) => new()
    {
        ["srtpFailures"] = t.SrtpFailures,
        ["sctpResyncs"] = t.SctpResyncs,
        ["sctp"] = t.SctpCounters is { } c ? $"packetsSent {c.PacketsSent} packetsReceived {c.PacketsReceived} received {c.MessagesReceived} chunks {c.DataChunksReceived} dup {c.DuplicateChunks} windowDrops {c.ReceiveWindowDrops} invalid {c.InvalidStreamChunks} sent {c.MessagesSent} chunksSent {c.DataChunksSent} retx {c.Retransmissions} T3 {c.T3Expirations}" : null,
        ["sctpDebug"] = SctpDebug(t),
        ["dtlsState"] = t.DtlsState.ToString(),
        ["sctpState"] = t.SctpState?.ToString(),
        ["iceState"] = t.IceState.ToString(),
        ["iceParameters"] = JsonSerializer.SerializeToNode(t.IceParameters, OrtcJson.Default.IceParameters),
    };

    /// <summary>The association's inner state, for a failure message (reflection: the engine keeps it internal).</summary>
    private static string? SctpDebug(WebRtcTransport t)
    {
        try
        {
            const System.Reflection.BindingFlags Flags = System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance;
            var link = typeof(WebRtcTransport).GetField("_sctp", Flags)!.GetValue(t);
            if (link is null) return null;
            var endpoint = (Ferry.Protocols.Sctp.DataChannelEndpoint)link.GetType().GetProperty("Endpoint", Flags)!.GetValue(link)!;
            var debug = typeof(Ferry.Protocols.Sctp.SctpAssociation).GetMethod("DebugState", Flags)!.Invoke(endpoint.Association, null);
            return $"{debug} peerTag {endpoint.Association.LocalVerificationTag} finished {endpoint.Association.IsFinished} cumIn {typeof(Ferry.Protocols.Sctp.SctpAssociation).GetProperty("CumulativeTsnReceived", Flags)!.GetValue(endpoint.Association)}";
        }
        catch (Exception e)
        {
            return e.GetType().Name + ": " + e.Message;
        }
    }

    private WebRtcTransport WebRtcFor(JsonObject data) =>
        _transports.TryGetValue(RequiredString(data, "transportId"), out var t) && t is WebRtcTransport w ? w : throw new ArgumentException("unknown WebRTC transportId");
}
