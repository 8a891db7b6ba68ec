using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Testing.Clients;

namespace Ferry.Server.Tests;

/// <summary>
/// Issue 16: the server bounded under slow, silent and hostile clients. Each test starts its own node
/// with the option under test set small, so a bound is reached in a second rather than minutes.
/// </summary>
public sealed class RobustnessTests
{
    private static readonly string OpusParameters = """
        {"mid":"0","codecs":[{"mimeType":"audio/opus","payloadType":111,"clockRate":48000,"channels":2,
          "parameters":{"minptime":10,"useinbandfec":1},"rtcpFeedback":[{"type":"transport-cc","parameter":""}]}],
         "headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":4,"encrypt":false,"parameters":{}}],
         "encodings":[{"ssrc":12345678,"dtx":false}],"rtcp":{"cname":"peer-a","reducedSize":true}}
        """;

    private static Task<FerryServer> StartAsync(ServerOptions options) =>
        FerryServer.StartAsync(options with { Port = 0, RtcMinPort = 41000, RtcMaxPort = 48999, LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning });

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not in {seconds} s");
            await Task.Delay(20);
        }
    }

    private static async Task<JsonElement> JoinAsync(ProtooTestClient client, bool consuming = true, string displayName = "x")
    {
        var caps = await client.RequestAsync("getRouterRtpCapabilities");
        var transport = await client.RequestAsync("createWebRtcTransport", new { producing = !consuming, consuming, sctpCapabilities = new { numStreams = new { OS = 1024, MIS = 1024 } } });
        await client.RequestAsync("join", JsonNode.Parse($$"""{"displayName":"{{displayName}}","rtpCapabilities":{{caps.GetRawText()}}}"""));
        return transport;
    }

    private static async Task<string> ConnectedSendTransportAsync(ProtooTestClient client)
    {
        var send = await client.RequestAsync("createWebRtcTransport", new { producing = true, consuming = false });
        var id = send.GetProperty("id").GetString()!;
        using var media = new WebRtcTestClient();
        await client.RequestAsync("connectWebRtcTransport", new JsonObject { ["transportId"] = id, ["dtlsParameters"] = JsonSerializer.SerializeToNode(media.DtlsParameters, ServerJson.Options) });
        return id;
    }

    private static async Task<HttpStatusCode?> UpgradeStatusAsync(string baseUrl, string roomId, string peerId)
    {
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("protoo");
        socket.Options.CollectHttpResponseDetails = true;
        try
        {
            await socket.ConnectAsync(new Uri(baseUrl.Replace("http://", "ws://") + $"/?roomId={roomId}&peerId={peerId}"), CancellationToken.None);
        }
        catch (WebSocketException)
        {
            return socket.HttpStatusCode;
        }
        // Upgraded: the server must then keep it (a request answers) or have closed it with a reason.
        return HttpStatusCode.SwitchingProtocols;
    }

    // Finding 1: 30 never-reading peers and one peer sending 512 KB display names grew the server by 564 MB.
    // Kestrel itself takes tens of MB of writes to a connection before they wait, a varying amount, so the
    // queue's bounds are checked here on a socket whose sends never complete: exactly what they act on.
    [Fact]
    public async Task A_peer_whose_queue_passes_the_byte_bound_is_disconnected_and_its_queue_freed()
    {
        var socket = new StuckWebSocket();
        var connection = new Ferry.Server.Signaling.ProtooConnection(socket, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
            new Ferry.Server.Signaling.ProtooConnectionOptions { SendQueueMaxBytes = 64 * 1024, SendTimeout = TimeSpan.FromSeconds(600) });
        var run = connection.RunAsync(CancellationToken.None);
        var name = new string('n', 2000);
        for (var i = 0; i < 1000 && connection.FailureReason is null; i++) connection.Notify("peerDisplayNameChanged", new { displayName = name });
        Assert.NotNull(connection.FailureReason);
        Assert.Contains("more than 65536 bytes queued", connection.FailureReason);
        await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, connection.QueuedBytes);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, socket.CloseSent);
        Assert.True(socket.Aborted);
    }

    [Fact]
    public async Task A_peer_whose_send_is_stuck_past_the_send_timeout_is_disconnected()
    {
        var socket = new StuckWebSocket();
        var connection = new Ferry.Server.Signaling.ProtooConnection(socket, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
            new Ferry.Server.Signaling.ProtooConnectionOptions { SendQueueMaxBytes = 1 << 30, SendTimeout = TimeSpan.FromSeconds(1) });
        var run = connection.RunAsync(CancellationToken.None);
        connection.Notify("activeSpeaker", new { peerId = "x" });
        await run.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Contains("stuck", connection.FailureReason);
        Assert.True(socket.Aborted);
    }

    /// <summary>A peer that never reads: each send waits forever (until the connection is aborted).</summary>
    private sealed class StuckWebSocket : WebSocket
    {
        private readonly TaskCompletionSource _aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private WebSocketState _state = WebSocketState.Open;

        public bool Aborted => _aborted.Task.IsCompleted;
        public WebSocketCloseStatus? CloseSent { get; private set; }
        public override WebSocketCloseStatus? CloseStatus => null;
        public override string? CloseStatusDescription => null;
        public override WebSocketState State => _state;
        public override string? SubProtocol => "protoo";

        public override void Abort()
        {
            _state = WebSocketState.Aborted;
            _aborted.TrySetResult();
        }

        public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) => Stuck(cancellationToken);

        public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
        {
            CloseSent = closeStatus;
            return Stuck(cancellationToken);
        }

        public override void Dispose() => Abort();

        public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
        {
            await Stuck(cancellationToken);
            throw new InvalidOperationException("unreachable");
        }

        public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken) => Stuck(cancellationToken);

        private async Task Stuck(CancellationToken cancellationToken)
        {
            await _aborted.Task.WaitAsync(cancellationToken);
            throw new WebSocketException("aborted");
        }
    }

    [Fact]
    public async Task Fields_others_receive_are_limited_in_size_with_a_clear_error()
    {
        await using var server = await StartAsync(new ServerOptions { Workers = 1, MaxPeerFieldBytes = 1000 });
        await using var alice = await ProtooTestClient.ConnectAsync(server.Url, "fields", "alice");
        var caps = await alice.RequestAsync("getRouterRtpCapabilities");
        var big = new string('x', 2000);
        Assert.Contains("displayName too large", (await Assert.ThrowsAsync<ProtooErrorException>(() => alice.RequestAsync("join", new { displayName = big }))).Reason);
        Assert.Contains("device too large", (await Assert.ThrowsAsync<ProtooErrorException>(() => alice.RequestAsync("join", new { displayName = "a", device = new { name = big } }))).Reason);
        var transport = await alice.RequestAsync("createWebRtcTransport", new { producing = true, consuming = true, sctpCapabilities = new { numStreams = new { OS = 1024, MIS = 1024 } } });
        await alice.RequestAsync("join", JsonNode.Parse($$"""{"displayName":"Alice","rtpCapabilities":{{caps.GetRawText()}}}"""));
        var error = await Assert.ThrowsAsync<ProtooErrorException>(() => alice.RequestAsync("changeDisplayName", new { displayName = big }));
        Assert.Contains("displayName too large: 2000 bytes, at most 1000", error.Reason);
        var stream = new { streamId = 1, ordered = true };
        var id = transport.GetProperty("id").GetString();
        Assert.Contains("appData too large", (await Assert.ThrowsAsync<ProtooErrorException>(() => alice.RequestAsync("produceData", new { transportId = id, sctpStreamParameters = stream, label = "chat", appData = new { x = big } }))).Reason);
        Assert.Contains("label too large", (await Assert.ThrowsAsync<ProtooErrorException>(() => alice.RequestAsync("produceData", new { transportId = id, sctpStreamParameters = stream, label = big }))).Reason);
        await alice.RequestAsync("changeDisplayName", new { displayName = new string('y', 1000) });
    }

    // Finding 2: newConsumer went to peers one after another, each waited on up to the request timeout.
    [Fact]
    public async Task Silent_peers_delay_no_other_peers_newConsumer()
    {
        // A timeout far above the test's deadline: before, the second silent peer was asked only after the first timed out.
        await using var server = await StartAsync(new ServerOptions { Workers = 1, RequestTimeout = TimeSpan.FromSeconds(120) });
        await using var alice = await ProtooTestClient.ConnectAsync(server.Url, "silent", "alice");
        await JoinAsync(alice, consuming: false);
        var sendId = await ConnectedSendTransportAsync(alice);
        var consumers = new List<ProtooTestClient>();
        try
        {
            foreach (var (id, silent) in new[] { ("s1", true), ("b", false), ("s2", true), ("c", false), ("s3", true) })
            {
                var peer = await ProtooTestClient.ConnectAsync(server.Url, "silent", id);
                peer.AnswerServerRequests = !silent;
                consumers.Add(peer);
                await JoinAsync(peer);
            }
            await alice.RequestAsync("produce", JsonNode.Parse($$"""{"transportId":"{{sendId}}","kind":"audio","rtpParameters":{{OpusParameters}}}"""));
            // Every peer is asked at once, silent ones included, and the answering ones get their consumers resumed.
            foreach (var peer in consumers) await peer.WaitServerRequestAsync("newConsumer", TimeSpan.FromSeconds(10));
            foreach (var peer in consumers.Where(p => p.AnswerServerRequests))
                await peer.WaitNotificationAsync("consumerScore", timeout: TimeSpan.FromSeconds(10));
        }
        finally
        {
            foreach (var peer in consumers) await peer.DisposeAsync();
        }
    }

    // Finding 3: a reload when alone closed the room under the new connection.
    [Fact]
    public async Task A_reload_when_alone_keeps_a_live_session()
    {
        await using var server = await StartAsync(new ServerOptions { Workers = 1 });
        var old = await ProtooTestClient.ConnectAsync(server.Url, "reload", "alice");
        await JoinAsync(old);
        for (var i = 0; i < 10; i++)
        {
            // Odd rounds: the old socket closes while the new one connects (the browser's order is not fixed).
            var closing = i % 2 == 1 ? old.DisposeAsync().AsTask() : Task.CompletedTask;
            var fresh = await ProtooTestClient.ConnectAsync(server.Url, "reload", "alice");
            await fresh.RequestAsync("getRouterRtpCapabilities");
            await JoinAsync(fresh);
            await closing;
            await old.DisposeAsync();
            old = fresh;
        }
        await old.RequestAsync("createWebRtcTransport", new { producing = true, consuming = false });
        var room = server.Rooms.Find("reload");
        Assert.NotNull(room);
        Assert.False(room.Closed);
        Assert.Equal("alice", Assert.Single(room.Peers).Id);
        await old.DisposeAsync();
        await WaitForAsync(() => Task.FromResult(server.Rooms.Find("reload") is null), "the room closed after its last peer left");
    }

    // Finding 4: bad broadcaster requests answered 500 and left a room with its router behind.
    [Fact]
    public async Task Bad_broadcaster_requests_answer_400_and_leave_no_room()
    {
        await using var server = await StartAsync(new ServerOptions { Workers = 1 });
        using var http = new HttpClient();
        var url = $"{server.Url}/rooms/bad/broadcasters";
        async Task<HttpStatusCode> Post(string path, string body) =>
            (await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"))).StatusCode;

        foreach (var body in new[] { "[]", "{}", """{"id":5}""", """{"id":""}""", """{"id":"b","displayName":5}""", """{"id":"b","device":"x"}""",
                     """{"id":"b","rtpCapabilities":5}""", """{"id":"b","rtpCapabilities":{"codecs":"x"}}""", "\"text\"", "5" })
            Assert.True(await Post(url, body) == HttpStatusCode.BadRequest, $"{body} did not answer 400");
        Assert.Empty(server.Rooms.Rooms);
        Assert.All(server.Workers.Workers, w => Assert.Empty(w.Routers));

        Assert.Equal(HttpStatusCode.OK, await Post(url, """{"id":"b"}"""));
        foreach (var body in new[] { "{}", """{"type":5}""", """{"type":"plain","comedia":"yes"}""", """{"type":"plain","rtcpMux":1}""", "[]" })
            Assert.True(await Post($"{url}/b/transports", body) == HttpStatusCode.BadRequest, $"transport {body} did not answer 400");
        var transport = await (await http.PostAsync($"{url}/b/transports", new StringContent("""{"type":"plain","comedia":false}""", Encoding.UTF8, "application/json"))).Content.ReadFromJsonAsync<JsonElement>();
        var transportId = transport.GetProperty("id").GetString();
        foreach (var body in new[] { """{"port":"x"}""", """{"ip":5,"port":1000}""", """{"ip":"127.0.0.1","port":70000}""", """{"dtlsParameters":5}""", """{"ip":"not an ip","port":1000}""" })
            Assert.True(await Post($"{url}/b/transports/{transportId}/connect", body) == HttpStatusCode.BadRequest, $"connect {body} did not answer 400");
        foreach (var body in new[] { "{}", """{"kind":"x","rtpParameters":{}}""", """{"kind":"audio"}""", """{"kind":"audio","rtpParameters":5}""",
                     """{"kind":"audio","rtpParameters":{"codecs":[],"encodings":[{"ssrc":1}]}}""",
                     """{"kind":"audio","rtpParameters":{"codecs":[{"mimeType":"audio/G722","payloadType":9,"clockRate":8000}],"encodings":[{"ssrc":1}]}}""" })
            Assert.True(await Post($"{url}/b/transports/{transportId}/producers", body) == HttpStatusCode.BadRequest, $"producer {body} did not answer 400");
        Assert.Equal(HttpStatusCode.BadRequest, await Post($"{url}/b/transports/{transportId}/consume", "{}"));
        Assert.Equal(HttpStatusCode.NotFound, await Post($"{url}/nobody/transports", """{"type":"plain"}"""));
        Assert.Equal(HttpStatusCode.OK, (await http.DeleteAsync($"{url}/b")).StatusCode);
        Assert.Empty(server.Rooms.Rooms);
    }

    [Fact]
    public async Task The_broadcaster_api_can_require_a_token()
    {
        await using var server = await StartAsync(new ServerOptions { Workers = 1, BroadcasterToken = "s3cret" });
        using var http = new HttpClient();
        var url = $"{server.Url}/rooms/guarded/broadcasters";
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsJsonAsync(url, new { id = "b" })).StatusCode);
        Assert.Empty(server.Rooms.Rooms);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = JsonContent.Create(new { id = "b" }) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "s3cret");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
    }

    // Finding 5: draining the last worker answered 409 but drained it; the next peer was accepted and dropped.
    [Fact]
    public async Task Draining_the_last_worker_is_refused_and_changes_nothing()
    {
        await using var server = await StartAsync(new ServerOptions { Workers = 1 });
        using var http = new HttpClient();
        var worker = server.Workers.Workers[0];
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsync($"{server.Url}/api/workers/{worker.Id}/drain", null)).StatusCode);
        var workers = await http.GetFromJsonAsync<JsonElement>($"{server.Url}/api/workers");
        Assert.False(workers[0].GetProperty("draining").GetBoolean());
        await using var alice = await ProtooTestClient.ConnectAsync(server.Url, "after-drain", "alice");
        await JoinAsync(alice);
    }

    [Fact]
    public async Task A_peer_that_cannot_be_placed_is_refused_with_503()
    {
        await using var server = await StartAsync(new ServerOptions { Workers = 1 });
        await server.Workers.Workers[0].CloseAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await UpgradeStatusAsync(server.Url, "nowhere", "alice"));
        Assert.Empty(server.Rooms.Rooms);
    }

    // Finding 8: a connection stalled mid-frame, or half-open, stayed in its room for good.
    [Fact]
    public async Task A_peer_stalled_in_the_middle_of_a_frame_is_removed()
    {
        // No pong can come through a half-sent frame: the keep-alive's deadline ends the connection.
        await using var server = await StartAsync(new ServerOptions { Workers = 1, KeepAliveInterval = TimeSpan.FromSeconds(1), KeepAliveTimeout = TimeSpan.FromSeconds(1) });
        using var stalled = await RawWebSocketPeer.ConnectAsync(server.Url, "mid-frame", "half");
        await WaitForAsync(() => Task.FromResult(server.Rooms.Find("mid-frame") is not null), "the peer in its room");
        await stalled.SendTextAsync("""{"request":true,"id":1,"method":"getRouterRtpCapabilities","data":{}}""", cut: 20);
        await WaitForAsync(() => Task.FromResult(server.Rooms.Find("mid-frame") is null), "the stalled peer removed");
    }

    [Fact]
    public async Task A_peer_stalled_between_the_fragments_of_a_message_is_closed_with_a_reason()
    {
        // Pings are answered between fragments, so only the read deadline catches this one.
        await using var server = await StartAsync(new ServerOptions { Workers = 1, ReadTimeout = TimeSpan.FromSeconds(1), KeepAliveInterval = TimeSpan.FromSeconds(600) });
        using var stalled = await RawWebSocketPeer.ConnectAsync(server.Url, "stalled", "half");
        await WaitForAsync(() => Task.FromResult(server.Rooms.Find("stalled") is not null), "the peer in its room");
        await stalled.SendTextAsync("""{"request":true,"id":1,""", fin: false);
        var close = await stalled.ReadUntilClosedAsync(TimeSpan.FromSeconds(15));
        Assert.NotNull(close);
        Assert.Equal((int)WebSocketCloseStatus.PolicyViolation, close.Value.Status);
        Assert.Contains("stalled", close.Value.Reason);
        await WaitForAsync(() => Task.FromResult(server.Rooms.Find("stalled") is null), "the stalled peer removed");
    }

    [Fact]
    public async Task A_peer_that_never_answers_pings_is_removed()
    {
        await using var server = await StartAsync(new ServerOptions { Workers = 1, KeepAliveInterval = TimeSpan.FromSeconds(1), KeepAliveTimeout = TimeSpan.FromSeconds(1) });
        // A healthy idle client answers pings (its library does) and stays.
        await using var idle = await ProtooTestClient.ConnectAsync(server.Url, "half-open", "idle");
        using var deaf = await RawWebSocketPeer.ConnectAsync(server.Url, "half-open", "deaf");
        await WaitForAsync(() => Task.FromResult(server.Rooms.Find("half-open")?.Peers.Count == 2), "both peers in the room");
        await WaitForAsync(() => Task.FromResult(server.Rooms.Find("half-open")?.Peers.Count == 1), "the peer that answers no ping removed");
        Assert.Equal("idle", Assert.Single(server.Rooms.Find("half-open")!.Peers).Id);
        await idle.RequestAsync("getRouterRtpCapabilities");
    }

    // Finding 9: one peer made 200 transports in 3 s.
    [Fact]
    public async Task Limits_per_peer_and_per_room_answer_clear_errors()
    {
        await using var server = await StartAsync(new ServerOptions
        {
            Workers = 1, MaxTransportsPerPeer = 2, MaxProducersPerPeer = 1, MaxDataProducersPerPeer = 1, MaxConsumersPerPeer = 1, MaxPeersPerRoom = 3,
        });
        await using var alice = await ProtooTestClient.ConnectAsync(server.Url, "limits", "alice");
        var recv = await JoinAsync(alice);
        var sendId = await ConnectedSendTransportAsync(alice);
        var error = await Assert.ThrowsAsync<ProtooErrorException>(() => alice.RequestAsync("createWebRtcTransport", new { producing = true, consuming = false }));
        Assert.Equal(429, error.Code);
        Assert.Contains("too many transports: at most 2 per peer (--max-transports-per-peer)", error.Reason);
        await alice.RequestAsync("produce", JsonNode.Parse($$"""{"transportId":"{{sendId}}","kind":"audio","rtpParameters":{{OpusParameters}}}"""));
        var second = OpusParameters.Replace("12345678", "87654321").Replace("\"mid\":\"0\"", "\"mid\":\"1\"");
        Assert.Contains("--max-producers-per-peer", (await Assert.ThrowsAsync<ProtooErrorException>(() =>
            alice.RequestAsync("produce", JsonNode.Parse($$"""{"transportId":"{{sendId}}","kind":"audio","rtpParameters":{{second}}}""")))).Reason);
        var stream = new { streamId = 1, ordered = true };
        await alice.RequestAsync("produceData", new { transportId = recv.GetProperty("id").GetString(), sctpStreamParameters = stream, label = "a" });
        Assert.Contains("--max-data-producers-per-peer", (await Assert.ThrowsAsync<ProtooErrorException>(() =>
            alice.RequestAsync("produceData", new { transportId = recv.GetProperty("id").GetString(), sctpStreamParameters = new { streamId = 2, ordered = true }, label = "b" }))).Reason);

        // The room: two broadcasters fill it; a fourth peer is refused before the upgrade, a reload of alice is not.
        using var http = new HttpClient();
        var url = $"{server.Url}/rooms/limits/broadcasters";
        var caps = await alice.RequestAsync("getRouterRtpCapabilities");
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync(url, new { id = "b1", rtpCapabilities = caps })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync(url, new { id = "b2" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.PostAsJsonAsync(url, new { id = "b3" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, await UpgradeStatusAsync(server.Url, "limits", "dave"));
        Assert.Equal(3, server.Rooms.Find("limits")!.Peers.Count);

        // Consumers: b1 may consume one producer, not two.
        var b2Transport = await (await http.PostAsJsonAsync($"{url}/b2/transports", new { type = "plain" })).Content.ReadFromJsonAsync<JsonElement>();
        var b2Producer = await (await http.PostAsJsonAsync($"{url}/b2/transports/{b2Transport.GetProperty("id").GetString()}/producers", new
        {
            kind = "audio", rtpParameters = JsonNode.Parse("""{"codecs":[{"mimeType":"audio/opus","payloadType":101,"clockRate":48000,"channels":2}],"encodings":[{"ssrc":11111111}]}"""),
        })).Content.ReadFromJsonAsync<JsonElement>();
        var producers = new[] { server.Rooms.Find("limits")!.Peers.Single(p => p.Id == "alice").Producers.Keys.Single(), b2Producer.GetProperty("id").GetString() };
        var b1Transport = (await (await http.PostAsJsonAsync($"{url}/b1/transports", new { type = "plain" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"{url}/b1/transports/{b1Transport}/consume?producerId={producers[0]}", null)).StatusCode);
        var refused = await http.PostAsync($"{url}/b1/transports/{b1Transport}/consume?producerId={producers[1]}", null);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Contains("--max-consumers-per-peer", await refused.Content.ReadAsStringAsync());
    }
}
