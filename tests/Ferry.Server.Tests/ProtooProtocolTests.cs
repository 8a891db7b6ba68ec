using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Testing.Clients;

namespace Ferry.Server.Tests;

/// <summary>mediasoup-demo's room protocol driven over a real WebSocket, method by method, errors included.</summary>
public sealed class ProtooProtocolTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static JsonNode Json(string text) => JsonNode.Parse(text)!;

    private static readonly string OpusParameters = """
        {"mid":"0","codecs":[{"mimeType":"audio/opus","payloadType":111,"clockRate":48000,"channels":2,
          "parameters":{"minptime":10,"useinbandfec":1},"rtcpFeedback":[{"type":"transport-cc","parameter":""}]}],
         "headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":4,"encrypt":false,"parameters":{}}],
         "encodings":[{"ssrc":12345678,"dtx":false}],"rtcp":{"cname":"peer-a","reducedSize":true}}
        """;

    private static async Task<ProtooErrorException> Refused(Task task) => await Assert.ThrowsAsync<ProtooErrorException>(() => task);

    [Fact]
    public async Task Every_method_answers_and_bad_requests_get_clear_errors()
    {
        var room = "protocol-" + Guid.NewGuid().ToString("N")[..6];
        await using var a = await ProtooTestClient.ConnectAsync(fixture.Server.Url, room, "alice");
        var caps = await a.RequestAsync("getRouterRtpCapabilities");
        Assert.Contains(caps.GetProperty("codecs").EnumerateArray(), c => c.GetProperty("mimeType").GetString() == "audio/opus");

        // Unknown method, produce before join, unknown ids.
        Assert.Contains("unknown request.method", (await Refused(a.RequestAsync("fly"))).Reason);
        Assert.Equal(500, (await Refused(a.RequestAsync("fly"))).Code);
        var sendInfo = await a.RequestAsync("createWebRtcTransport", new { forceTcp = false, producing = true, consuming = false });
        var sendId = sendInfo.GetProperty("id").GetString()!;
        Assert.True(sendInfo.GetProperty("iceParameters").GetProperty("iceLite").GetBoolean());
        Assert.Equal("auto", sendInfo.GetProperty("dtlsParameters").GetProperty("role").GetString());
        Assert.Equal("udp", sendInfo.GetProperty("iceCandidates")[0].GetProperty("protocol").GetString());
        Assert.Contains("not yet joined", (await Refused(a.RequestAsync("produce", Json($$$"""{"transportId":"{{{sendId}}}","kind":"audio","rtpParameters":{{{OpusParameters}}}}""")))).Reason);

        var joined = await a.RequestAsync("join", Json("""{"displayName":"Alice","device":{"name":"test"},"rtpCapabilities":""" + caps.GetRawText() + "}"));
        Assert.Empty(joined.GetProperty("peers").EnumerateArray());
        Assert.Contains("already joined", (await Refused(a.RequestAsync("join", new { displayName = "again" }))).Reason);

        Assert.Contains("not found", (await Refused(a.RequestAsync("connectWebRtcTransport", new { transportId = "nope", dtlsParameters = new { } }))).Reason);
        Assert.Contains("missing transportId", (await Refused(a.RequestAsync("connectWebRtcTransport", new { }))).Reason);
        Assert.Contains("not connected", (await Refused(a.RequestAsync("produce", Json($$$"""{"transportId":"{{{sendId}}}","kind":"audio","rtpParameters":{{{OpusParameters}}}}""")))).Reason);

        using var media = new WebRtcTestClient();
        var dtls = JsonSerializer.SerializeToNode(media.DtlsParameters, ServerJson.Options);
        Assert.Contains("dtlsParameters", (await Refused(a.RequestAsync("connectWebRtcTransport", new { transportId = sendId, dtlsParameters = "bad" }))).Reason);
        await a.RequestAsync("connectWebRtcTransport", new JsonObject { ["transportId"] = sendId, ["dtlsParameters"] = dtls });
        Assert.Contains("already called", (await Refused(a.RequestAsync("connectWebRtcTransport", new JsonObject { ["transportId"] = sendId, ["dtlsParameters"] = dtls!.DeepClone() }))).Reason);

        // Invalid rtpParameters: no codecs; a codec the router lacks.
        Assert.Contains("rtpParameters", (await Refused(a.RequestAsync("produce", Json($$$"""{"transportId":"{{{sendId}}}","kind":"audio","rtpParameters":{"codecs":"x"}}""")))).Reason);
        Assert.Contains("empty codecs", (await Refused(a.RequestAsync("produce", Json($$$"""{"transportId":"{{{sendId}}}","kind":"audio","rtpParameters":{"mid":"0","codecs":[],"encodings":[{"ssrc":1}]}}""")))).Reason);
        Assert.Contains("unsupported codec", (await Refused(a.RequestAsync("produce", Json($$$"""{"transportId":"{{{sendId}}}","kind":"audio","rtpParameters":{"mid":"0","codecs":[{"mimeType":"audio/G722","payloadType":9,"clockRate":8000}],"encodings":[{"ssrc":1}]}}""")))).Reason);

        var produced = await a.RequestAsync("produce", Json($$$"""{"transportId":"{{{sendId}}}","kind":"audio","rtpParameters":{{{OpusParameters}}},"appData":{"source":"mic"}}"""));
        var producerId = produced.GetProperty("id").GetString()!;

        // Bob joins: told about Alice, gets a newConsumer request for her producer, Alice is told about Bob.
        await using var b = await ProtooTestClient.ConnectAsync(fixture.Server.Url, room, "bob");
        var recvInfo = await b.RequestAsync("createWebRtcTransport", new { producing = false, consuming = true });
        var recvId = recvInfo.GetProperty("id").GetString()!;
        var bobJoined = await b.RequestAsync("join", Json("""{"displayName":"Bob","rtpCapabilities":""" + caps.GetRawText() + "}"));
        Assert.Equal("alice", bobJoined.GetProperty("peers")[0].GetProperty("id").GetString());
        Assert.Equal("Alice", bobJoined.GetProperty("peers")[0].GetProperty("displayName").GetString());
        var newPeer = await a.WaitNotificationAsync("newPeer");
        Assert.Equal("bob", newPeer.GetProperty("id").GetString());
        var newConsumer = await b.WaitServerRequestAsync("newConsumer");
        Assert.Equal("alice", newConsumer.GetProperty("peerId").GetString());
        Assert.Equal(producerId, newConsumer.GetProperty("producerId").GetString());
        Assert.Equal("audio", newConsumer.GetProperty("kind").GetString());
        Assert.Equal("simple", newConsumer.GetProperty("type").GetString());
        Assert.Equal("mic", newConsumer.GetProperty("appData").GetProperty("source").GetString());
        Assert.Equal(100, newConsumer.GetProperty("rtpParameters").GetProperty("codecs")[0].GetProperty("payloadType").GetInt32());
        var consumerId = newConsumer.GetProperty("id").GetString()!;

        // Consumer methods.
        await b.RequestAsync("pauseConsumer", new { consumerId });
        await b.RequestAsync("resumeConsumer", new { consumerId });
        await b.RequestAsync("setConsumerPreferredLayers", new { consumerId, spatialLayer = 0, temporalLayer = 0 });
        await b.RequestAsync("setConsumerPriority", new { consumerId, priority = 2 });
        await b.RequestAsync("requestConsumerKeyFrame", new { consumerId });
        Assert.Equal("outbound-rtp", (await b.RequestAsync("getConsumerStats", new { consumerId }))[0].GetProperty("type").GetString());
        Assert.Contains("not found", (await Refused(b.RequestAsync("pauseConsumer", new { consumerId = "nope" }))).Reason);
        Assert.Contains("priority", (await Refused(b.RequestAsync("setConsumerPriority", new { consumerId, priority = 0 }))).Reason);

        // Producer methods; pause is mirrored to Bob as consumerPaused.
        await a.RequestAsync("pauseProducer", new { producerId });
        Assert.Equal(consumerId, (await b.WaitNotificationAsync("consumerPaused")).GetProperty("consumerId").GetString());
        await a.RequestAsync("resumeProducer", new { producerId });
        Assert.Equal(consumerId, (await b.WaitNotificationAsync("consumerResumed")).GetProperty("consumerId").GetString());
        Assert.Equal(JsonValueKind.Array, (await a.RequestAsync("getProducerStats", new { producerId })).ValueKind);
        Assert.Contains("not found", (await Refused(a.RequestAsync("pauseProducer", new { producerId = "nope" }))).Reason);
        var stats = await a.RequestAsync("getTransportStats", new { transportId = sendId });
        Assert.Equal("webrtc-transport", stats[0].GetProperty("type").GetString());
        var ice = await a.RequestAsync("restartIce", new { transportId = sendId });
        Assert.Equal(32, ice.GetProperty("usernameFragment").GetString()!.Length);

        // Display name; data requests with bad input answer clear errors while the rest keeps working.
        await a.RequestAsync("changeDisplayName", new { displayName = "Alice 2" });
        var renamed = await b.WaitNotificationAsync("peerDisplayNameChanged");
        Assert.Equal("Alice 2", renamed.GetProperty("displayName").GetString());
        Assert.Equal("Alice", renamed.GetProperty("oldDisplayName").GetString());
        Assert.Contains("missing sctpStreamParameters", (await Refused(a.RequestAsync("produceData", new { transportId = sendId }))).Reason);
        Assert.Contains("SCTP not enabled", (await Refused(a.RequestAsync("produceData", new { transportId = sendId, sctpStreamParameters = new { streamId = 0 } }))).Reason);
        Assert.Contains("not found", (await Refused(a.RequestAsync("getDataProducerStats", new { dataProducerId = "x" }))).Reason);
        await a.SendRawAsync("{not json");
        await a.SendRawAsync("""{"request":true,"method":"join"}""");
        Assert.Equal(JsonValueKind.Object, (await a.RequestAsync("getRouterRtpCapabilities")).ValueKind);

        // Admin API sees the room; closing the producer closes Bob's consumer.
        var detail = await fixture.GetJsonAsync($"/api/rooms/{room}");
        Assert.Equal(2, detail.GetProperty("peers").GetArrayLength());
        await a.RequestAsync("closeProducer", new { producerId });
        Assert.Equal(consumerId, (await b.WaitNotificationAsync("consumerClosed")).GetProperty("consumerId").GetString());
        _ = recvId;

        // Alice leaves: Bob is told; Bob leaves: the room is gone.
        await a.DisposeAsync();
        Assert.Equal("alice", (await b.WaitNotificationAsync("peerClosed")).GetProperty("peerId").GetString());
        await b.DisposeAsync();
        var response = await WaitForAsync(async () => (await fixture.Http.GetAsync($"{fixture.Server.Url}/api/rooms/{room}")).StatusCode == HttpStatusCode.NotFound);
        Assert.True(response);
    }

    /// <summary>
    /// Issue 16, finding 7: null inside any array of a request (and null fields) answers a clear error naming
    /// what is wrong, never a NullReferenceException from inside the engine, and the peer goes on working.
    /// </summary>
    [Fact]
    public async Task Null_inside_arrays_answers_a_clear_error_for_every_request_kind()
    {
        var room = "nulls-" + Guid.NewGuid().ToString("N")[..6];
        await using var a = await ProtooTestClient.ConnectAsync(fixture.Server.Url, room, "alice");
        var caps = await a.RequestAsync("getRouterRtpCapabilities");

        async Task ExpectClear(string method, JsonNode data, string what)
        {
            var error = await Refused(a.RequestAsync(method, data));
            Assert.DoesNotContain("Object reference", error.Reason, StringComparison.Ordinal);
            Assert.Contains(what, error.Reason, StringComparison.Ordinal);
        }

        JsonNode CapsWith(Action<JsonObject> change)
        {
            var node = JsonNode.Parse(caps.GetRawText())!.AsObject();
            change(node);
            return new JsonObject { ["displayName"] = "Alice", ["rtpCapabilities"] = node };
        }

        // join: null codec, header extension, feedback.
        await ExpectClear("join", CapsWith(c => c["codecs"]!.AsArray().Insert(0, null)), "codecs[0]: null");
        await ExpectClear("join", CapsWith(c => c["headerExtensions"]!.AsArray().Add(null)), "headerExtensions[");
        await ExpectClear("join", CapsWith(c => c["codecs"]![0]!["rtcpFeedback"]!.AsArray().Add(null)), "rtcpFeedback[");
        await a.RequestAsync("join", Json("""{"displayName":"Alice","rtpCapabilities":""" + caps.GetRawText() + "}"));

        // connectWebRtcTransport: null fingerprint (createWebRtcTransport has no array; null numStreams means the defaults).
        var sendId = (await a.RequestAsync("createWebRtcTransport", new { producing = true, consuming = false })).GetProperty("id").GetString()!;
        await ExpectClear("connectWebRtcTransport", new JsonObject { ["transportId"] = sendId, ["dtlsParameters"] = Json("""{"role":"client","fingerprints":[null]}""") }, "fingerprints[0]: null");
        using var media = new WebRtcTestClient();
        await a.RequestAsync("connectWebRtcTransport", new JsonObject { ["transportId"] = sendId, ["dtlsParameters"] = JsonSerializer.SerializeToNode(media.DtlsParameters, ServerJson.Options) });

        // produce: null codec, encoding, header extension, feedback.
        JsonNode ProduceWith(Action<JsonObject> change)
        {
            var parameters = JsonNode.Parse(OpusParameters)!.AsObject();
            change(parameters);
            return new JsonObject { ["transportId"] = sendId, ["kind"] = "audio", ["rtpParameters"] = parameters };
        }
        await ExpectClear("produce", ProduceWith(p => p["codecs"]!.AsArray().Insert(0, null)), "codecs[0]: null");
        await ExpectClear("produce", ProduceWith(p => p["encodings"]!.AsArray().Insert(0, null)), "encodings[0]: null");
        await ExpectClear("produce", ProduceWith(p => p["headerExtensions"]!.AsArray().Insert(0, null)), "headerExtensions[0]: null");
        await ExpectClear("produce", ProduceWith(p => p["codecs"]![0]!["rtcpFeedback"]!.AsArray().Insert(0, null)), "rtcpFeedback[0]: null");

        // produceData: null fields of the stream parameters.
        await ExpectClear("produceData", Json($$$"""{"transportId":"{{{sendId}}}","sctpStreamParameters":{"streamId":null}}"""), "sctpStreamParameters");

        // Still serving: the valid produce goes through.
        var produced = await a.RequestAsync("produce", ProduceWith(_ => { }));
        Assert.False(string.IsNullOrEmpty(produced.GetProperty("id").GetString()));
    }

    /// <summary>A transport created with sctpCapabilities, connected through ICE, DTLS and SCTP by a test client.</summary>
    private static async Task<(string Id, JsonElement Info, WebRtcTestClient Media)> SctpTransportAsync(ProtooTestClient peer, bool producing)
    {
        var info = await peer.RequestAsync("createWebRtcTransport", new
        {
            producing, consuming = !producing, sctpCapabilities = new { numStreams = new { OS = 1024, MIS = 1024 } },
        });
        var id = info.GetProperty("id").GetString()!;
        var media = new WebRtcTestClient();
        await peer.RequestAsync("connectWebRtcTransport", new JsonObject
        {
            ["transportId"] = id, ["dtlsParameters"] = JsonSerializer.SerializeToNode(media.DtlsParameters, ServerJson.Options),
        });
        await media.ConnectAsync(
            info.GetProperty("iceParameters").Deserialize<Ferry.Protocols.Ortc.IceParameters>(ServerJson.Options)!,
            info.GetProperty("iceCandidates").Deserialize<List<Ferry.Protocols.Ortc.IceCandidate>>(ServerJson.Options)!,
            info.GetProperty("dtlsParameters").Deserialize<Ferry.Protocols.Ortc.DtlsParameters>(ServerJson.Options)!,
            TimeSpan.FromSeconds(10),
            info.GetProperty("sctpParameters").Deserialize<Ferry.Protocols.Ortc.SctpParameters>(ServerJson.Options));
        await media.WaitSctpConnectedAsync(TimeSpan.FromSeconds(10));
        return (id, info, media);
    }

    [Fact]
    public async Task Data_channels_produceData_newDataConsumer_messages_stats_and_closing()
    {
        var room = "data-" + Guid.NewGuid().ToString("N")[..6];
        await using var a = await ProtooTestClient.ConnectAsync(fixture.Server.Url, room, "alice");
        var caps = await a.RequestAsync("getRouterRtpCapabilities");
        var sctpCaps = """ "sctpCapabilities":{"numStreams":{"OS":1024,"MIS":1024}} """;

        // sctpParameters only for a transport asked with sctpCapabilities.
        var noSctp = await a.RequestAsync("createWebRtcTransport", new { producing = true, consuming = false });
        Assert.False(noSctp.TryGetProperty("sctpParameters", out _));
        var (sendId, sendInfo, sendMedia) = await SctpTransportAsync(a, producing: true);
        using var sendScope = sendMedia;
        var sctp = sendInfo.GetProperty("sctpParameters");
        Assert.Equal((5000, 1024, 1024, 262144), (sctp.GetProperty("port").GetInt32(), sctp.GetProperty("OS").GetInt32(), sctp.GetProperty("MIS").GetInt32(), sctp.GetProperty("maxMessageSize").GetInt32()));
        Assert.Contains("invalid sctpCapabilities", (await Refused(a.RequestAsync("createWebRtcTransport", new { sctpCapabilities = new { numStreams = new { OS = 0, MIS = 5 } } }))).Reason);

        var chat = new { streamId = 0, ordered = true };
        Assert.Contains("not yet joined", (await Refused(a.RequestAsync("produceData", new { transportId = sendId, sctpStreamParameters = chat, label = "chat" }))).Reason);
        await a.RequestAsync("join", Json("""{"displayName":"Alice","rtpCapabilities":""" + caps.GetRawText() + "," + sctpCaps + "}"));

        // Bob joins with data channels and a consuming transport.
        await using var b = await ProtooTestClient.ConnectAsync(fixture.Server.Url, room, "bob");
        var (recvId, _, recvMedia) = await SctpTransportAsync(b, producing: false);
        using var recvScope = recvMedia;
        await b.RequestAsync("join", Json("""{"displayName":"Bob","rtpCapabilities":""" + caps.GetRawText() + "," + sctpCaps + "}"));

        // Errors first: bad stream parameters, unknown transport, a stream in use.
        Assert.Contains("maxRetransmits", (await Refused(a.RequestAsync("produceData", new { transportId = sendId, sctpStreamParameters = new { streamId = 4, ordered = true, maxRetransmits = 1 } }))).Reason);
        Assert.Contains("not found", (await Refused(a.RequestAsync("produceData", new { transportId = "nope", sctpStreamParameters = chat }))).Reason);
        Assert.Contains("sctpStreamParameters", (await Refused(a.RequestAsync("produceData", new { transportId = sendId, sctpStreamParameters = "x" }))).Reason);

        // Alice's chat: Bob is asked to consume it, with the stream Ferry chose for him.
        sendMedia.OpenDataChannel(0, label: "chat");
        var produced = await a.RequestAsync("produceData", new { transportId = sendId, sctpStreamParameters = chat, label = "chat", protocol = "", appData = new { info = "my-chat-DataProducer" } });
        var dataProducerId = produced.GetProperty("id").GetString()!;
        Assert.Contains("already in use", (await Refused(a.RequestAsync("produceData", new { transportId = sendId, sctpStreamParameters = chat, label = "chat" }))).Reason);
        var newDataConsumer = await b.WaitServerRequestAsync("newDataConsumer");
        Assert.Equal("alice", newDataConsumer.GetProperty("peerId").GetString());
        Assert.Equal(dataProducerId, newDataConsumer.GetProperty("dataProducerId").GetString());
        Assert.Equal("chat", newDataConsumer.GetProperty("label").GetString());
        Assert.Equal("", newDataConsumer.GetProperty("protocol").GetString());
        Assert.Equal("my-chat-DataProducer", newDataConsumer.GetProperty("appData").GetProperty("info").GetString());
        var streamParameters = newDataConsumer.GetProperty("sctpStreamParameters");
        var bobStream = (ushort)streamParameters.GetProperty("streamId").GetInt32();
        Assert.True(streamParameters.GetProperty("ordered").GetBoolean());
        var dataConsumerId = newDataConsumer.GetProperty("id").GetString()!;

        // Messages flow Alice -> Ferry -> Bob over real SCTP.
        recvMedia.OpenDataChannel(bobStream, label: "chat");
        sendMedia.SendData(0, "hello bob"u8, isString: true);
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => !recvMedia.ReceivedData.IsEmpty, TimeSpan.FromSeconds(10)));
        var message = recvMedia.ReceivedData.First();
        Assert.Equal((bobStream, 51u), (message.StreamId, message.Ppid));
        Assert.Equal("hello bob"u8.ToArray(), message.Data);

        var producerStats = (await a.RequestAsync("getDataProducerStats", new { dataProducerId }))[0];
        Assert.Equal(("data-producer", "chat", 1, 9), (producerStats.GetProperty("type").GetString(), producerStats.GetProperty("label").GetString(),
            producerStats.GetProperty("messagesReceived").GetInt32(), producerStats.GetProperty("bytesReceived").GetInt32()));
        var consumerStats = (await b.RequestAsync("getDataConsumerStats", new { dataConsumerId }))[0];
        Assert.Equal(("data-consumer", 1, 9), (consumerStats.GetProperty("type").GetString(), consumerStats.GetProperty("messagesSent").GetInt32(), consumerStats.GetProperty("bytesSent").GetInt32()));
        Assert.True(consumerStats.TryGetProperty("bufferedAmount", out _));
        Assert.Contains("not found", (await Refused(b.RequestAsync("getDataConsumerStats", new { dataConsumerId = "nope" }))).Reason);
        Assert.Contains("not found", (await Refused(b.RequestAsync("getDataProducerStats", new { dataProducerId }))).Reason);   // not Bob's

        // Carol joins later with data channels: she gets Alice's chat too. Dave, without sctpCapabilities, does not.
        await using var c = await ProtooTestClient.ConnectAsync(fixture.Server.Url, room, "carol");
        var (_, _, carolMedia) = await SctpTransportAsync(c, producing: false);
        using var carolScope = carolMedia;
        await c.RequestAsync("join", Json("""{"displayName":"Carol","rtpCapabilities":""" + caps.GetRawText() + "," + sctpCaps + "}"));
        Assert.Equal(dataProducerId, (await c.WaitServerRequestAsync("newDataConsumer")).GetProperty("dataProducerId").GetString());
        await using var d = await ProtooTestClient.ConnectAsync(fixture.Server.Url, room, "dave");
        await d.RequestAsync("createWebRtcTransport", new { producing = false, consuming = true });
        await d.RequestAsync("join", Json("""{"displayName":"Dave","rtpCapabilities":""" + caps.GetRawText() + "}"));
        await Task.Delay(300);
        Assert.DoesNotContain(d.ServerRequests, r => r.Method == "newDataConsumer");

        // Alice leaves: her data producer closes, Bob and Carol are told their data consumers closed.
        await a.DisposeAsync();
        Assert.Equal(dataConsumerId, (await b.WaitNotificationAsync("dataConsumerClosed")).GetProperty("dataConsumerId").GetString());
        await c.WaitNotificationAsync("dataConsumerClosed");
        Assert.Contains("not found", (await Refused(b.RequestAsync("getDataConsumerStats", new { dataConsumerId }))).Reason);
        _ = recvId;
    }

    [Fact]
    public async Task Transports_offer_udp_then_tcp_and_force_tcp_gives_only_tcp_over_which_ice_and_dtls_connect()
    {
        var room = "tcp-" + Guid.NewGuid().ToString("N")[..6];
        await using var a = await ProtooTestClient.ConnectAsync(fixture.Server.Url, room, "alice");

        // By default, as mediasoup-demo: a UDP candidate and a TCP passive one, UDP preferred.
        var both = await a.RequestAsync("createWebRtcTransport", new { forceTcp = false, producing = true, consuming = false });
        var candidates = both.GetProperty("iceCandidates");
        Assert.Equal(2, candidates.GetArrayLength());
        Assert.Equal("udp", candidates[0].GetProperty("protocol").GetString());
        Assert.False(candidates[0].TryGetProperty("tcpType", out var none) && none.ValueKind != JsonValueKind.Null);
        Assert.Equal("tcp", candidates[1].GetProperty("protocol").GetString());
        Assert.Equal("passive", candidates[1].GetProperty("tcpType").GetString());
        Assert.Equal("tcpcandidate", candidates[1].GetProperty("foundation").GetString());
        Assert.True(candidates[0].GetProperty("priority").GetInt64() > candidates[1].GetProperty("priority").GetInt64());

        // forceTcp: only the TCP candidate; a client connects over it and the stats say tcp.
        var tcpOnly = await a.RequestAsync("createWebRtcTransport", new { forceTcp = true, producing = false, consuming = true });
        var tcpCandidate = Assert.Single(tcpOnly.GetProperty("iceCandidates").EnumerateArray());
        Assert.Equal("tcp", tcpCandidate.GetProperty("protocol").GetString());
        Assert.Equal("passive", tcpCandidate.GetProperty("tcpType").GetString());
        Assert.InRange(tcpCandidate.GetProperty("port").GetInt32(), 41000, 48999);
        var transportId = tcpOnly.GetProperty("id").GetString()!;
        using var media = new WebRtcTestClient(protocol: Ferry.Protocols.Ortc.TransportProtocolName.Tcp);
        await a.RequestAsync("connectWebRtcTransport", new JsonObject
        {
            ["transportId"] = transportId,
            ["dtlsParameters"] = JsonSerializer.SerializeToNode(media.DtlsParameters, ServerJson.Options),
        });
        await media.ConnectAsync(
            tcpOnly.GetProperty("iceParameters").Deserialize<Ferry.Protocols.Ortc.IceParameters>(ServerJson.Options)!,
            tcpOnly.GetProperty("iceCandidates").Deserialize<List<Ferry.Protocols.Ortc.IceCandidate>>(ServerJson.Options)!,
            tcpOnly.GetProperty("dtlsParameters").Deserialize<Ferry.Protocols.Ortc.DtlsParameters>(ServerJson.Options)!,
            TimeSpan.FromSeconds(10));
        JsonElement tuple = default;
        Assert.True(await WaitForAsync(async () =>
        {
            var stats = await a.RequestAsync("getTransportStats", new { transportId });
            return stats[0].GetProperty("dtlsState").GetString() == "connected" && stats[0].TryGetProperty("iceSelectedTuple", out tuple) && tuple.ValueKind == JsonValueKind.Object;
        }));
        Assert.Equal("tcp", tuple.GetProperty("protocol").GetString());
        Assert.Equal(tcpCandidate.GetProperty("port").GetInt32(), tuple.GetProperty("localPort").GetInt32());
        Assert.Equal(media.LocalEndPoint.Port, tuple.GetProperty("remotePort").GetInt32());
    }

    [Fact]
    public async Task The_websocket_requires_room_peer_and_the_protoo_subprotocol()
    {
        using var http = new HttpClient();
        var response = await http.GetAsync(fixture.Server.Url + "/api/workers");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var workers = await fixture.GetJsonAsync("/api/workers");
        Assert.Equal(2, workers.GetArrayLength());
        var metrics = await http.GetStringAsync(fixture.Server.Url + "/metrics");
        Assert.Contains("ferry_worker_cpu{worker=", metrics);
        using var ws = new System.Net.WebSockets.ClientWebSocket();
        await Assert.ThrowsAnyAsync<System.Net.WebSockets.WebSocketException>(() => ws.ConnectAsync(new Uri(fixture.Server.Url.Replace("http", "ws") + "/?roomId=x"), CancellationToken.None));
    }

    private static readonly string Vp8Parameters = """
        {"mid":"0","codecs":[{"mimeType":"video/VP8","payloadType":96,"clockRate":90000,
          "rtcpFeedback":[{"type":"nack","parameter":""},{"type":"nack","parameter":"pli"},{"type":"transport-cc","parameter":""}]}],
         "headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":4,"encrypt":false,"parameters":{}}],
         "encodings":[{"ssrc":22223333}],"rtcp":{"cname":"peer-v","reducedSize":true}}
        """;

    /// <summary>createWebRtcTransport and connectWebRtcTransport, then ICE and DTLS from a test client: the transport id.</summary>
    private static async Task<string> ConnectTransportAsync(ProtooTestClient peer, WebRtcTestClient media, bool producing)
    {
        var info = await peer.RequestAsync("createWebRtcTransport", new { producing, consuming = !producing });
        var id = info.GetProperty("id").GetString()!;
        await peer.RequestAsync("connectWebRtcTransport", new JsonObject { ["transportId"] = id, ["dtlsParameters"] = JsonSerializer.SerializeToNode(media.DtlsParameters, ServerJson.Options) });
        await media.ConnectAsync(
            info.GetProperty("iceParameters").Deserialize<Ferry.Protocols.Ortc.IceParameters>(ServerJson.Options)!,
            info.GetProperty("iceCandidates").Deserialize<List<Ferry.Protocols.Ortc.IceCandidate>>(ServerJson.Options)!,
            info.GetProperty("dtlsParameters").Deserialize<Ferry.Protocols.Ortc.DtlsParameters>(ServerJson.Options)!,
            TimeSpan.FromSeconds(10));
        return id;
    }

    [Fact]
    public async Task A_consuming_peer_gets_downlinkBwe_and_a_producing_peer_is_capped_by_remb()
    {
        var room = "bwe-" + Guid.NewGuid().ToString("N")[..6];
        await using var a = await ProtooTestClient.ConnectAsync(fixture.Server.Url, room, "alice");
        var caps = await a.RequestAsync("getRouterRtpCapabilities");
        using var aliceMedia = new WebRtcTestClient();
        var sendId = await ConnectTransportAsync(a, aliceMedia, producing: true);
        await a.RequestAsync("join", Json("""{"displayName":"Alice","rtpCapabilities":""" + caps.GetRawText() + "}"));
        await a.RequestAsync("produce", Json($$$"""{"transportId":"{{{sendId}}}","kind":"video","rtpParameters":{{{Vp8Parameters}}}}"""));

        // Every transport asks its endpoint to stay under 1.5 Mbit/s (mediasoup-demo's maxIncomingBitrate), by REMB.
        Assert.True(await WebRtcTestClient.WaitUntilAsync(() => aliceMedia.ReceivedRtcp.ToArray().Any(r => RembOf(r) == 1_500_000), TimeSpan.FromSeconds(10)));

        await using var b = await ProtooTestClient.ConnectAsync(fixture.Server.Url, room, "bob");
        using var bobMedia = new WebRtcTestClient();
        await ConnectTransportAsync(b, bobMedia, producing: false);
        await b.RequestAsync("join", Json("""{"displayName":"Bob","rtpCapabilities":""" + caps.GetRawText() + "}"));
        var newConsumer = await b.WaitServerRequestAsync("newConsumer");
        Assert.Equal("video", newConsumer.GetProperty("kind").GetString());

        // Alice's camera: VP8 key frames and delta frames, 30 a second.
        using var stop = new CancellationTokenSource();
        var sending = Task.Run(async () =>
        {
            var buffer = new byte[1500];
            for (ushort seq = 0; !stop.IsCancellationRequested; seq++)
            {
                var w = new Ferry.Protocols.Rtp.RtpPacketWriter(buffer, 96, seq, (uint)(seq * 3000), 22223333, marker: true);
                w.AddExtension(4, "0"u8);
                var payload = new byte[800];
                payload[0] = 0x10;
                payload[1] = seq % 30 == 0 ? (byte)0 : (byte)1;
                aliceMedia.SendRtp(buffer.AsSpan(0, w.SetPayload(payload)));
                await Task.Delay(33);
            }
        });
        try
        {
            // The first reports may come while the stream's rate is still being measured (a few kbit/s on a busy
            // machine): the one that counts is the first with the rate of what is sent (about 200 kbit/s).
            var bwe = await b.WaitNotificationAsync("downlinkBwe", d => d.GetProperty("desiredBitrate").GetInt64() >= 50_000, TimeSpan.FromSeconds(15));
            var available = bwe.GetProperty("availableBitrate").GetInt64();
            var desired = bwe.GetProperty("desiredBitrate").GetInt64();
            Assert.InRange(available, 30_000, 10_000_000);
            Assert.InRange(desired, 50_000, 1_000_000);          // about 200 kbit/s are sent
            Assert.True(bwe.GetProperty("effectiveDesiredBitrate").GetInt64() >= desired);
            // The producing side has no consumer, so no estimate of its own to report.
            Assert.DoesNotContain(a.Notifications, n => n.Method == "downlinkBwe");
        }
        finally
        {
            stop.Cancel();
            await sending;
        }
    }

    private static long RembOf(byte[] rtcp)
    {
        var e = new Ferry.Protocols.Rtcp.RtcpCompoundEnumerator(rtcp);
        while (e.MoveNext())
        {
            if (Ferry.Protocols.Rtcp.Remb.TryParse(e.Current, out _, out var bitrate, Span<uint>.Empty, out _)) return (long)bitrate;
        }
        return -1;
    }

    private static async Task<bool> WaitForAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await condition()) return true;
            await Task.Delay(50);
        }
        return false;
    }
}
