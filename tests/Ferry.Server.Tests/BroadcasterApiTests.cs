using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Protocols.Rtp;
using Ferry.Testing.Clients;

namespace Ferry.Server.Tests;

/// <summary>mediasoup-demo's broadcaster HTTP API: a plain-RTP sender (as ffmpeg) joins a room and is heard by a WebRTC peer.</summary>
public sealed class BroadcasterApiTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task A_plain_rtp_broadcaster_joins_produces_and_is_consumed_then_leaves()
    {
        var room = "bc-" + Guid.NewGuid().ToString("N")[..6];
        await using var alice = await ProtooTestClient.ConnectAsync(fixture.Server.Url, room, "alice");
        var caps = await alice.RequestAsync("getRouterRtpCapabilities");
        var recv = await alice.RequestAsync("createWebRtcTransport", new { producing = false, consuming = true });
        using var media = new WebRtcTestClient();
        await alice.RequestAsync("connectWebRtcTransport", new JsonObject
        {
            ["transportId"] = recv.GetProperty("id").GetString(),
            ["dtlsParameters"] = JsonSerializer.SerializeToNode(media.DtlsParameters, ServerJson.Options),
        });
        var ice = recv.GetProperty("iceParameters").Deserialize<Ferry.Protocols.Ortc.IceParameters>(ServerJson.Options)!;
        var candidates = recv.GetProperty("iceCandidates").Deserialize<List<Ferry.Protocols.Ortc.IceCandidate>>(ServerJson.Options)!;
        var dtls = recv.GetProperty("dtlsParameters").Deserialize<Ferry.Protocols.Ortc.DtlsParameters>(ServerJson.Options)!;
        await media.ConnectAsync(ice, candidates, dtls, TimeSpan.FromSeconds(10));
        await alice.RequestAsync("join", JsonNode.Parse("""{"displayName":"Alice","rtpCapabilities":""" + caps.GetRawText() + "}"));

        var http = fixture.Http;
        var baseUrl = $"{fixture.Server.Url}/rooms/{room}/broadcasters";
        var created = await http.PostAsJsonAsync(baseUrl, new { id = "bc", displayName = "ffmpeg", device = new { name = "FFmpeg" }, rtpCapabilities = caps });
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var peers = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("peers");
        Assert.Equal("alice", peers[0].GetProperty("id").GetString());
        Assert.Equal("bc", (await alice.WaitNotificationAsync("newPeer")).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsJsonAsync(baseUrl, new { id = "bc" })).StatusCode);

        var transport = await (await http.PostAsJsonAsync($"{baseUrl}/bc/transports", new { type = "plain", comedia = true, rtcpMux = true })).Content.ReadFromJsonAsync<JsonElement>();
        var transportId = transport.GetProperty("id").GetString()!;
        var port = transport.GetProperty("port").GetInt32();
        Assert.Equal("127.0.0.1", transport.GetProperty("ip").GetString());
        var produce = await http.PostAsJsonAsync($"{baseUrl}/bc/transports/{transportId}/producers", new
        {
            kind = "audio",
            rtpParameters = JsonNode.Parse("""{"codecs":[{"mimeType":"audio/opus","payloadType":101,"clockRate":48000,"channels":2,"parameters":{"sprop-stereo":1}}],"encodings":[{"ssrc":11111111}]}"""),
        });
        Assert.Equal(HttpStatusCode.OK, produce.StatusCode);
        var producerId = (await produce.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        var newConsumer = await alice.WaitServerRequestAsync("newConsumer");
        Assert.Equal("bc", newConsumer.GetProperty("peerId").GetString());
        Assert.Equal(producerId, newConsumer.GetProperty("producerId").GetString());

        // ffmpeg's part: plain RTP to the transport's port; comedia learns where it comes from.
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var buffer = new byte[200];
        for (var i = 0; i < 30; i++)
        {
            var w = new RtpPacketWriter(buffer, 101, (ushort)(100 + i), (uint)(i * 960), 11111111);
            var n = w.SetPayload(new byte[] { 0xFC, 1, 2, 3, (byte)i });
            udp.SendTo(buffer.AsSpan(0, n), new IPEndPoint(IPAddress.Loopback, port));
            await Task.Delay(5);
        }
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => media.ReceivedRtp.Count >= 25, TimeSpan.FromSeconds(10)), $"alice got {media.ReceivedRtp.Count}");

        // Errors are clear; the broadcaster leaves and Alice is told.
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsJsonAsync($"{baseUrl}/nobody/transports", new { type = "plain" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsJsonAsync($"{baseUrl}/bc/transports", new { type = "carrier-pigeon" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotImplemented, (await http.PostAsJsonAsync($"{baseUrl}/bc/transports/{transportId}/produce/data", new { })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.DeleteAsync($"{baseUrl}/bc")).StatusCode);
        Assert.Equal("bc", (await alice.WaitNotificationAsync("peerClosed")).GetProperty("peerId").GetString());
        Assert.Equal(newConsumer.GetProperty("id").GetString(), (await alice.WaitNotificationAsync("consumerClosed")).GetProperty("consumerId").GetString());
    }
}
