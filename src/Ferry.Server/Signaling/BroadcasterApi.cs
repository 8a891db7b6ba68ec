using System.Text.Json;
using Ferry.Protocols.Ortc;
using Ferry.Server.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Ferry.Server.Signaling;

/// <summary>mediasoup-demo's broadcaster HTTP API (its server.js routes), so ffmpeg or GStreamer can join a room.</summary>
internal static class BroadcasterApi
{
    public static void Map(IEndpointRouteBuilder app, RoomRegistry rooms)
    {
        var group = app.MapGroup("/rooms/{roomId}");
        group.MapPost("/broadcasters", (string roomId, JsonElement body) => Run(async () =>
        {
            var room = await rooms.GetOrCreateAsync(roomId);
            var id = ServerJson.ReadString(body, "id");
            var displayName = ServerJson.ReadOptional<string>(body, "displayName") ?? id;
            var device = body.TryGetProperty("device", out var d) ? d.Clone() : default;
            return await room.CreateBroadcasterAsync(id, displayName, device, ServerJson.ReadOptional<RtpCapabilities>(body, "rtpCapabilities"));
        }));
        group.MapDelete("/broadcasters/{broadcasterId}", (string roomId, string broadcasterId) => Run(async () =>
        {
            await Find(rooms, roomId).DeleteBroadcasterAsync(broadcasterId);
            return "broadcaster deleted";
        }));
        group.MapPost("/broadcasters/{broadcasterId}/transports", (string roomId, string broadcasterId, JsonElement body) => Run(() =>
            Find(rooms, roomId).CreateBroadcasterTransportAsync(broadcasterId, ServerJson.ReadString(body, "type"),
                ServerJson.ReadOptional<bool?>(body, "comedia") ?? true, ServerJson.ReadOptional<bool?>(body, "rtcpMux") ?? true)));
        group.MapPost("/broadcasters/{broadcasterId}/transports/{transportId}/connect", (string roomId, string broadcasterId, string transportId, JsonElement body) => Run(() =>
            Find(rooms, roomId).ConnectBroadcasterTransportAsync(broadcasterId, transportId, ServerJson.ReadOptional<DtlsParameters>(body, "dtlsParameters"),
                ServerJson.ReadOptional<string>(body, "ip"), ServerJson.ReadOptional<int?>(body, "port"), ServerJson.ReadOptional<int?>(body, "rtcpPort"))));
        group.MapPost("/broadcasters/{broadcasterId}/transports/{transportId}/producers", (string roomId, string broadcasterId, string transportId, JsonElement body) => Run(() =>
            Find(rooms, roomId).CreateBroadcasterProducerAsync(broadcasterId, transportId, ServerJson.Read<MediaKind>(body, "kind"), ServerJson.Read<RtpParameters>(body, "rtpParameters"))));
        group.MapPost("/broadcasters/{broadcasterId}/transports/{transportId}/consume", (string roomId, string broadcasterId, string transportId, string producerId) => Run(() =>
            Find(rooms, roomId).CreateBroadcasterConsumerAsync(broadcasterId, transportId, producerId)));
        group.MapPost("/broadcasters/{broadcasterId}/consumers/{consumerId}/resume", (string roomId, string broadcasterId, string consumerId) => Run(() =>
            Find(rooms, roomId).ResumeBroadcasterConsumerAsync(broadcasterId, consumerId)));
        group.MapPost("/broadcasters/{broadcasterId}/transports/{transportId}/consume/data", () =>
            Results.Json(new { error = "data channels are not supported yet" }, statusCode: StatusCodes.Status501NotImplemented));
        group.MapPost("/broadcasters/{broadcasterId}/transports/{transportId}/produce/data", () =>
            Results.Json(new { error = "data channels are not supported yet" }, statusCode: StatusCodes.Status501NotImplemented));
    }

    private static Room Find(RoomRegistry rooms, string roomId) =>
        rooms.Find(roomId) ?? throw new ProtooRequestException($"room with id \"{roomId}\" not found", 404);

    /// <summary>Runs a request; refusals become 4xx/500 with the reason as text, as mediasoup-demo answers.</summary>
    private static async Task<IResult> Run<T>(Func<Task<T>> action)
    {
        try
        {
            var result = await action();
            return result is string text ? Results.Text(text) : Results.Json(result, ServerJson.Options);
        }
        catch (ProtooRequestException e)
        {
            return Results.Text(e.Message, statusCode: e.Code is >= 400 and < 600 ? e.Code : 500);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or JsonException)
        {
            return Results.Text(e.Message, statusCode: e is ArgumentException or JsonException ? 400 : 500);
        }
    }
}
