using System.Text.Json;
using Ferry.Protocols.Ortc;
using Ferry.Server.Rooms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Signaling;

/// <summary>
/// mediasoup-demo's broadcaster HTTP API (its server.js routes), so ffmpeg or GStreamer can join a room.
/// Every body is read and checked before anything is created (a bad one answers 400 and leaves nothing
/// behind), and a room created for a request that then fails is closed again.
/// </summary>
internal static class BroadcasterApi
{
    public static void Map(IEndpointRouteBuilder app, RoomRegistry rooms, string? token)
    {
        var logger = app.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Ferry.Server.Broadcasters");
        var group = app.MapGroup("/rooms/{roomId}").AddEndpointFilter(async (context, next) =>
            token is null || Admin.AdminApi.HasBearer(context.HttpContext, token) ? await next(context) : Results.Unauthorized());
        group.MapPost("/broadcasters", (string roomId, JsonElement body) => Run(logger, async () =>
        {
            var id = Field(() => ServerJson.ReadString(body, "id"));
            if (id.Length == 0) throw new ProtooRequestException("missing id", 400);
            var displayName = Field(() => ServerJson.ReadOptional<string>(body, "displayName")) ?? id;
            var device = body.TryGetProperty("device", out var d) && d.ValueKind is not JsonValueKind.Null ? d.Clone() : default;
            if (device.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Object)) throw new ProtooRequestException("invalid device: expected an object", 400);
            var rtpCapabilities = Field(() => ServerJson.ReadOptional<RtpCapabilities>(body, "rtpCapabilities"));
            if (rooms.Find(roomId) is null && !rooms.CanCreate) throw new ProtooRequestException("no worker can take a new room now", 503);
            while (true)
            {
                var room = await rooms.GetOrCreateAsync(roomId);
                try
                {
                    return await room.CreateBroadcasterAsync(id, displayName, device, rtpCapabilities);
                }
                catch (ProtooRequestException) when (room.Closed)
                {
                    // Its last peer left meanwhile: take a new room.
                }
                finally
                {
                    await room.CloseIfEmptyAsync();
                }
            }
        }));
        group.MapDelete("/broadcasters/{broadcasterId}", (string roomId, string broadcasterId) => Run(logger, async () =>
        {
            await Find(rooms, roomId).DeleteBroadcasterAsync(broadcasterId);
            return "broadcaster deleted";
        }));
        group.MapPost("/broadcasters/{broadcasterId}/transports", (string roomId, string broadcasterId, JsonElement body) => Run(logger, () =>
        {
            var type = Field(() => ServerJson.ReadString(body, "type"));
            var comedia = Field(() => ServerJson.ReadOptional<bool?>(body, "comedia")) ?? true;
            var rtcpMux = Field(() => ServerJson.ReadOptional<bool?>(body, "rtcpMux")) ?? true;
            return Find(rooms, roomId).CreateBroadcasterTransportAsync(broadcasterId, type, comedia, rtcpMux);
        }));
        group.MapPost("/broadcasters/{broadcasterId}/transports/{transportId}/connect", (string roomId, string broadcasterId, string transportId, JsonElement body) => Run(logger, () =>
        {
            var dtls = Field(() => ServerJson.ReadOptional<DtlsParameters>(body, "dtlsParameters"));
            var ip = Field(() => ServerJson.ReadOptional<string>(body, "ip"));
            var port = Field(() => ServerJson.ReadOptional<int?>(body, "port"));
            var rtcpPort = Field(() => ServerJson.ReadOptional<int?>(body, "rtcpPort"));
            if (port is < 1 or > 65535 || rtcpPort is < 1 or > 65535) throw new ProtooRequestException("invalid port: expected 1..65535", 400);
            return Find(rooms, roomId).ConnectBroadcasterTransportAsync(broadcasterId, transportId, dtls, ip, port, rtcpPort);
        }));
        group.MapPost("/broadcasters/{broadcasterId}/transports/{transportId}/producers", (string roomId, string broadcasterId, string transportId, JsonElement body) => Run(logger, () =>
        {
            var kind = Field(() => ServerJson.Read<MediaKind>(body, "kind"));
            var rtpParameters = Field(() => ServerJson.Read<RtpParameters>(body, "rtpParameters"));
            return Find(rooms, roomId).CreateBroadcasterProducerAsync(broadcasterId, transportId, kind, rtpParameters);
        }));
        group.MapPost("/broadcasters/{broadcasterId}/transports/{transportId}/consume", (string roomId, string broadcasterId, string transportId, string? producerId) => Run(logger, () =>
            string.IsNullOrEmpty(producerId) ? throw new ProtooRequestException("missing producerId", 400)
                : Find(rooms, roomId).CreateBroadcasterConsumerAsync(broadcasterId, transportId, producerId)));
        group.MapPost("/broadcasters/{broadcasterId}/consumers/{consumerId}/resume", (string roomId, string broadcasterId, string consumerId) => Run(logger, () =>
            Find(rooms, roomId).ResumeBroadcasterConsumerAsync(broadcasterId, consumerId)));
        group.MapPost("/broadcasters/{broadcasterId}/transports/{transportId}/consume/data", () =>
            Results.Json(new { error = "data channels are not supported yet" }, statusCode: StatusCodes.Status501NotImplemented));
        group.MapPost("/broadcasters/{broadcasterId}/transports/{transportId}/produce/data", () =>
            Results.Json(new { error = "data channels are not supported yet" }, statusCode: StatusCodes.Status501NotImplemented));
    }

    private static Room Find(RoomRegistry rooms, string roomId) =>
        rooms.Find(roomId) is { Closed: false } room ? room : throw new ProtooRequestException($"room with id \"{roomId}\" not found", 404);

    /// <summary>Reads a body field; a missing or malformed one is the client's error (400).</summary>
    private static T Field<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (ProtooRequestException e) when (e.Code == 500)
        {
            throw new ProtooRequestException(e.Message, 400);
        }
    }

    /// <summary>
    /// Runs a request; refusals become 4xx with the reason as text, as mediasoup-demo answers: bad input
    /// 400, unknown ids 404, a state that forbids it 409, a limit 429. Only a fault of the server answers 500.
    /// </summary>
    private static async Task<IResult> Run<T>(ILogger logger, Func<Task<T>> action)
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
        catch (Exception e) when (e is ArgumentException or JsonException or NotSupportedException)
        {
            return Results.Text(e.Message, statusCode: StatusCodes.Status400BadRequest);
        }
        catch (InvalidOperationException e)
        {
            return Results.Text(e.Message, statusCode: StatusCodes.Status409Conflict);
        }
        catch (Exception e)
        {
            logger.LogError(e, "broadcaster request failed");
            return Results.Text(e.Message, statusCode: StatusCodes.Status500InternalServerError);
        }
    }
}
