using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Ortc;
using Ferry.Protocols.Ortc;
using Ferry.Server;
using Ferry.Server.Signaling;

namespace Ferry.Fuzz;

/// <summary>The targets over Ferry.Server (run.sh instruments Ferry.Server.dll and Ferry.dll for them).</summary>
internal static class ServerTargets
{
    public static readonly IReadOnlyList<NamedTarget> All =
    [
        new("protoo", ProtooTarget.Run),
    ];
}

/// <summary>The protoo signaling (run.sh instruments this class too, so that every input shows afl some coverage).</summary>
internal static class ProtooTarget
{
    // Lazy, as every static here that runs Ferry's code: instrumented code may only run once SharpFuzz has started.
    private static readonly Lazy<RtpCapabilities> Router = new(() => RouterRtpCapabilities.Generate(FerryServer.DefaultMediaCodecs));

    private static RtpCapabilities RouterCapabilities => Router.Value;

    /// <summary>
    /// One protoo WebSocket message as ProtooConnection reads it (<see cref="ProtooConnection.Read"/>:
    /// the JSON envelope, a request with id, method and data, or a response), then a request's data read
    /// as the room reads it for that method (ServerJson, mediasoup's conventions) and, for the ORTC
    /// parameters, validated and negotiated as the engine does before it creates anything, and the
    /// response ProtooConnection would send. A request may only be refused with the exceptions
    /// ProtooConnection answers as an error (ProtooRequestException, ArgumentException as mediasoup's
    /// TypeError, InvalidOperationException, NotSupportedException, JsonException): anything else is an
    /// exception from deep inside, which the server logs as a failure.
    /// </summary>
    public static void Run(ReadOnlySpan<byte> input)
    {
        if (ProtooConnection.Read(input.ToArray(), out _) is not { IsRequest: true } message) return;
        try
        {
            Request(message.Method!, message.Data);
        }
        catch (Exception e) when (e is ProtooRequestException or ArgumentException or InvalidOperationException or NotSupportedException or JsonException)
        {
            _ = e.Message;
        }
        // The response echoes the id, whatever JSON it was.
        _ = new JsonObject { ["response"] = true, ["id"] = JsonNode.Parse(message.Id.GetRawText()), ["ok"] = true }.ToJsonString();
    }

    /// <summary>What the room reads of each method's data (Rooms/RoomRequests.cs), without a room.</summary>
    private static void Request(string method, JsonElement data)
    {
        switch (method)
        {
            case "join":
                ServerJson.ReadOptional<string>(data, "displayName");
                if (ServerJson.ReadOptional<RtpCapabilities>(data, "rtpCapabilities") is { } capabilities)
                {
                    RtpParametersValidation.ValidateCapabilities(capabilities);
                    // Every producer a joining peer may consume: audio and a simulcast video.
                    foreach (var consumable in Consumables.Value)
                    {
                        if (RtpParametersNegotiation.CanConsume(consumable, capabilities))
                            RtpParametersNegotiation.GetConsumerParameters(consumable, capabilities);
                    }
                }
                ServerJson.ReadOptional<SctpCapabilities>(data, "sctpCapabilities");
                break;
            case "createWebRtcTransport":
                ServerJson.ReadOptional<bool>(data, "forceTcp");
                ServerJson.ReadOptional<bool>(data, "producing");
                ServerJson.ReadOptional<bool>(data, "consuming");
                _ = ServerJson.ReadOptional<SctpCapabilities>(data, "sctpCapabilities")?.NumStreams.Os;
                break;
            case "connectWebRtcTransport":
                ServerJson.ReadString(data, "transportId");
                var dtls = ServerJson.Read<DtlsParameters>(data, "dtlsParameters");
                if (dtls.Fingerprints is not null) RtpParametersValidation.CheckList(dtls.Fingerprints, "fingerprints", 8);
                break;
            case "produce":
                ServerJson.ReadString(data, "transportId");
                Produce(ServerJson.Read<MediaKind>(data, "kind"), ServerJson.Read<RtpParameters>(data, "rtpParameters"));
                if (data.TryGetProperty("appData", out var appData) && appData.ValueKind == JsonValueKind.Object)
                {
                    foreach (var p in appData.EnumerateObject()) _ = p.Value.Clone();
                }
                break;
            case "produceData":
                ServerJson.ReadString(data, "transportId");
                Ferry.Data.SctpStreamValidation.Validate(ServerJson.Read<SctpStreamParameters>(data, "sctpStreamParameters"));
                ServerJson.ReadOptional<string>(data, "label");
                ServerJson.ReadOptional<string>(data, "protocol");
                break;
            case "setConsumerPreferredLayers":
                ServerJson.ReadString(data, "consumerId");
                ServerJson.Read<int>(data, "spatialLayer");
                ServerJson.ReadOptional<int?>(data, "temporalLayer");
                break;
            case "setConsumerPriority":
                ServerJson.ReadString(data, "consumerId");
                ServerJson.Read<int>(data, "priority");
                break;
            case "changeDisplayName":
                ServerJson.ReadString(data, "displayName");
                break;
            case "closeProducer" or "pauseProducer" or "resumeProducer" or "getProducerStats":
                ServerJson.ReadString(data, "producerId");
                break;
            case "pauseConsumer" or "resumeConsumer" or "requestConsumerKeyFrame" or "getConsumerStats":
                ServerJson.ReadString(data, "consumerId");
                break;
            case "restartIce" or "getTransportStats":
                ServerJson.ReadString(data, "transportId");
                break;
            default:
                throw new ProtooRequestException($"unknown request.method \"{method}\"");
        }
    }

    /// <summary>What Transport.ProduceAsync does with the parameters before the producer exists, then what consuming it takes.</summary>
    private static void Produce(MediaKind kind, RtpParameters parameters)
    {
        var validated = RtpParametersValidation.ValidateForProducer(kind, parameters);
        var mapping = RtpParametersNegotiation.GetProducerMapping(validated, RouterCapabilities, out var mapped);
        var consumable = RtpParametersNegotiation.GetConsumableParameters(kind, mapped, RouterCapabilities, mapping);
        RtpParametersValidation.ProducerTypeOf(mapped);
        if (RtpParametersNegotiation.CanConsume(consumable, RouterCapabilities))
            RtpParametersNegotiation.GetConsumerParameters(consumable, RouterCapabilities);
        RtpParametersNegotiation.GetPipeConsumerParameters(consumable, enableRtx: true);
    }

    /// <summary>The consumable parameters of an Opus producer and of a three-layer VP8 simulcast producer.</summary>
    private static readonly Lazy<RtpParameters[]> Consumables = new(() =>
    [
        ConsumableOf(MediaKind.Audio, """{"codecs":[{"mimeType":"audio/opus","payloadType":111,"clockRate":48000,"channels":2}],"encodings":[{"ssrc":1111}]}"""),
        ConsumableOf(MediaKind.Video, """{"codecs":[{"mimeType":"video/VP8","payloadType":96,"clockRate":90000},{"mimeType":"video/rtx","payloadType":97,"clockRate":90000,"parameters":{"apt":96}}],"encodings":[{"rid":"r0","maxBitrate":100000},{"rid":"r1","maxBitrate":300000},{"rid":"r2","maxBitrate":900000}]}"""),
    ]);

    private static RtpParameters ConsumableOf(MediaKind kind, string json)
    {
        var parameters = RtpParametersValidation.ValidateForProducer(kind, JsonSerializer.Deserialize<RtpParameters>(json, ServerJson.Options)!);
        var mapping = RtpParametersNegotiation.GetProducerMapping(parameters, RouterCapabilities, out var mapped);
        return RtpParametersNegotiation.GetConsumableParameters(kind, mapped, RouterCapabilities, mapping);
    }
}
