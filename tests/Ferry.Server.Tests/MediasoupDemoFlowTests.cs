using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Protocols.Sctp;
using Ferry.Testing.Clients;

namespace Ferry.Server.Tests;

/// <summary>
/// mediasoup-demo's app (app/src/RoomClient.js) as its server sees it: every request it sends, with the
/// fields it sends, and every server request and notification it handles, checked for the fields it reads
/// and their types. Written from the app's sources, so a change that would break the real app fails here.
/// </summary>
public sealed class MediasoupDemoFlowTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    // What the app's handlers switch on: anything else it logs as unknown (notifications) or rejects (requests).
    private static readonly HashSet<string> AppNotifications =
    [
        "mediasoup-version", "producerScore", "newPeer", "peerClosed", "peerDisplayNameChanged", "downlinkBwe", "consumerClosed",
        "consumerPaused", "consumerResumed", "consumerLayersChanged", "consumerScore", "dataConsumerClosed", "activeSpeaker",
    ];
    private static readonly HashSet<string> AppServerRequests = ["newConsumer", "newDataConsumer"];

    // deviceInfo.js's shape: the other peers' tiles read device.flag, name and version.
    private static readonly object Device = new { flag = "chrome", name = "Chrome", version = "120.0.0.0" };
    private static readonly object SctpCapabilities = new { numStreams = new { OS = 1024, MIS = 1024 } };

    private static string ExpectedVersion =>
        typeof(Router).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;

    [Fact]
    public async Task A_new_peer_is_first_told_the_server_version()
    {
        await using var client = await ProtooTestClient.ConnectAsync(fixture.Server.Url, "version-" + Guid.NewGuid().ToString("N")[..6], "p");
        var version = await client.WaitNotificationAsync("mediasoup-version");
        Assert.False(string.IsNullOrEmpty(ExpectedVersion));
        Assert.Equal(ExpectedVersion, Str(version, "version"));
        // Sent before anything else, as mediasoup-demo's server does on the connection.
        Assert.Equal("mediasoup-version", client.Notifications.First().Method);
    }

    [Fact]
    public async Task DataConsumerClosed_reaches_the_peer_before_its_data_channel_is_reset()
    {
        // Rounds as the app (it closes its DataConsumer on the notification) and as a client that does not:
        // the server then resets the stream itself. With the reset first, one round may pass by luck, not all.
        for (var round = 0; round < 4; round++)
        {
            var appCloses = round % 2 == 0;
            var room = "dcclose-" + Guid.NewGuid().ToString("N")[..6];
            var alice = await DemoPeer.JoinAsync(fixture.Server.Url, room, "alice", "Alice");
            await using var bob = await DemoPeer.JoinAsync(fixture.Server.Url, room, "bob", "Bob");
            try
            {
                await alice.ConnectSendAsync();
                var chatId = await alice.ProduceDataAsync(0, "chat");
                var request = await bob.Protoo.WaitServerRequestAsync("newDataConsumer", Wait);
                Assert.Equal(chatId, Str(request, "dataProducerId"));
                var stream = (ushort)Num(Obj(request, "sctpStreamParameters"), "streamId");
                // The channel is up end to end once a message gets through.
                alice.Send.SendData(0, "hi"u8, isString: true);
                Assert.True(await WebRtcTestClient.WaitUntilAsync(() => bob.Recv.ReceivedData.Any(m => m.StreamId == stream), Wait));

                // What the client had seen of the reset when the notification came in.
                var resetBeforeNotification = -1;
                bob.Protoo.OnNotification = (method, _) =>
                {
                    if (method != "dataConsumerClosed") return;
                    Volatile.Write(ref resetBeforeNotification, ResetSeen(bob.Recv, stream) ? 1 : 0);
                    if (appCloses) bob.Recv.CloseDataChannel(stream);
                };
                await alice.DisposeAsync();   // her data producer closes with her transports
                Assert.True(await WebRtcTestClient.WaitUntilAsync(() => Volatile.Read(ref resetBeforeNotification) >= 0 && ResetSeen(bob.Recv, stream), Wait),
                    "the notification and the stream reset both reach the client");
                Assert.True(Volatile.Read(ref resetBeforeNotification) == 0, $"round {round} (app closes: {appCloses}): the data channel was reset before dataConsumerClosed arrived");
                // Closed both ways: the stream is free for the next data consumer.
                Assert.True(await WebRtcTestClient.WaitUntilAsync(() => bob.Recv.DataEvents.Any(e =>
                    e.Kind == DataChannelEventKind.Association && e.Association!.Kind == SctpEventKind.OutgoingStreamsReset && e.Association.Streams!.Contains(stream)), Wait));
            }
            finally
            {
                await alice.DisposeAsync();
            }
        }
    }

    private static bool ResetSeen(WebRtcTestClient media, ushort stream) =>
        media.DataEvents.Any(e => e.Kind == DataChannelEventKind.ChannelClosed && e.Channel?.Id == stream);

    [Fact]
    public async Task The_apps_requests_server_requests_and_notifications_carry_what_it_reads()
    {
        var room = "demo-" + Guid.NewGuid().ToString("N")[..6];
        var alice = await DemoPeer.JoinAsync(fixture.Server.Url, room, "alice", "Alice");
        await using var bob = await DemoPeer.JoinAsync(fixture.Server.Url, room, "bob", "Bob");
        using var stopAudio = new CancellationTokenSource();
        using var stopVideo = new CancellationTokenSource();
        Task media = Task.CompletedTask;
        try
        {
            foreach (var peer in new[] { alice, bob })
                Assert.Equal(ExpectedVersion, Str(await peer.Protoo.WaitNotificationAsync("mediasoup-version", timeout: Wait), "version"));
            Assert.Empty(Arr(alice.Joined, "peers").EnumerateArray());
            var peers = Arr(bob.Joined, "peers");
            var alicePeer = Assert.Single(peers.EnumerateArray());
            Assert.Equal("alice", Str(alicePeer, "id"));
            Assert.Equal("Alice", Str(alicePeer, "displayName"));
            Assert.Equal("chrome", Str(Obj(alicePeer, "device"), "flag"));
            var newPeer = await alice.Protoo.WaitNotificationAsync("newPeer", timeout: Wait);
            Assert.Equal("bob", Str(newPeer, "id"));
            Assert.Equal("Bob", Str(newPeer, "displayName"));
            Assert.Equal("chrome", Str(Obj(newPeer, "device"), "flag"));

            // enableMic / enableWebcam: the send transport connects on the first produce.
            await alice.ConnectSendAsync();
            var micId = await alice.ProduceAsync("audio", MicParameters, new { });
            var webcamId = await alice.ProduceAsync("video", WebcamParameters, new { });
            media = SendMediaAsync(alice.Send, stopAudio.Token, stopVideo.Token);
            // enableChatDataProducer / enableBotDataProducer once the send transport is connected.
            var chatId = await alice.ProduceDataAsync(0, "chat");
            var botId = await alice.ProduceDataAsync(1, "bot");

            // Bob is asked to consume both producers and the chat (the bot's data goes to mediasoup-demo's bot).
            var audioRequest = await bob.WaitServerRequestAsync("newConsumer", d => d.GetProperty("producerId").GetString() == micId);
            var videoRequest = await bob.WaitServerRequestAsync("newConsumer", d => d.GetProperty("producerId").GetString() == webcamId);
            var audioConsumerId = CheckNewConsumer(audioRequest, "alice", "audio");
            var videoConsumerId = CheckNewConsumer(videoRequest, "alice", "video");
            Assert.Equal("simulcast", Str(videoRequest, "type"));
            var dataRequest = await bob.WaitServerRequestAsync("newDataConsumer", d => d.GetProperty("dataProducerId").GetString() == chatId);
            var chatConsumerId = Str(dataRequest, "id");
            Assert.Equal("alice", Str(dataRequest, "peerId"));
            var chatStream = (ushort)Num(Obj(dataRequest, "sctpStreamParameters"), "streamId");
            Assert.Equal("chat", Str(dataRequest, "label"));
            Str(dataRequest, "protocol");
            Obj(dataRequest, "appData");

            // consumerScore after each resume, producerScore, current layers, the downlink estimate, the active speaker.
            foreach (var consumerId in new[] { audioConsumerId, videoConsumerId })
            {
                var score = Obj(await bob.Protoo.WaitNotificationAsync("consumerScore", d => d.GetProperty("consumerId").GetString() == consumerId, Wait), "score");
                Num(score, "score");
                Num(score, "producerScore");
                Assert.All(Arr(score, "producerScores").EnumerateArray(), s => Assert.Equal(JsonValueKind.Number, s.ValueKind));
            }
            foreach (var producerId in new[] { micId, webcamId })
            {
                var score = Arr(await alice.Protoo.WaitNotificationAsync("producerScore", d => d.GetProperty("producerId").GetString() == producerId, Wait), "score");
                Assert.NotEmpty(score.EnumerateArray());
                Assert.All(score.EnumerateArray(), s =>
                {
                    Num(s, "ssrc");
                    Num(s, "score");
                    // Printed as "rid:…" when present: then a string.
                    if (s.TryGetProperty("rid", out var rid)) Assert.Equal(JsonValueKind.String, rid.ValueKind);
                });
            }
            var layers = await bob.Protoo.WaitNotificationAsync("consumerLayersChanged", d => d.GetProperty("consumerId").GetString() == videoConsumerId, Wait);
            Assert.Equal(JsonValueKind.Number, Member(layers, "spatialLayer").ValueKind);
            Assert.Equal(JsonValueKind.Number, Member(layers, "temporalLayer").ValueKind);
            var bwe = await bob.Protoo.WaitNotificationAsync("downlinkBwe", timeout: Wait);
            Num(bwe, "desiredBitrate");
            Num(bwe, "effectiveDesiredBitrate");
            Num(bwe, "availableBitrate");
            var speaker = await bob.Protoo.WaitNotificationAsync("activeSpeaker", d => d.TryGetProperty("peerId", out var p) && p.ValueKind == JsonValueKind.String, Wait);
            Assert.Equal("alice", Str(speaker, "peerId"));

            // sendChatMessage: the chat reaches Bob's DataChannel.
            alice.Send.SendData(0, "hello from the demo"u8, isString: true);
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => bob.Recv.ReceivedData.Any(m => m.StreamId == chatStream && m.Ppid == 51), Wait));

            // Bob's consumer controls (audio-only mode, the layer and priority arrows, the key frame link).
            await bob.Protoo.RequestAsync("pauseConsumer", new { consumerId = videoConsumerId });
            // Paused, it forwards no layers: both null, as mediasoup-demo's server sends them.
            var none = await bob.Protoo.WaitNotificationAsync("consumerLayersChanged",
                d => Str(d, "consumerId") == videoConsumerId && d.TryGetProperty("spatialLayer", out var s) && s.ValueKind == JsonValueKind.Null, Wait);
            Assert.Equal(JsonValueKind.Null, Member(none, "temporalLayer").ValueKind);
            await bob.Protoo.RequestAsync("resumeConsumer", new { consumerId = videoConsumerId });
            await bob.Protoo.RequestAsync("setConsumerPreferredLayers", new { consumerId = videoConsumerId, spatialLayer = 0, temporalLayer = 0 });
            await bob.Protoo.RequestAsync("setConsumerPriority", new { consumerId = videoConsumerId, priority = 2 });
            await bob.Protoo.RequestAsync("requestConsumerKeyFrame", new { consumerId = videoConsumerId });
            await bob.Protoo.WaitNotificationAsync("consumerLayersChanged",
                d => d.GetProperty("consumerId").GetString() == videoConsumerId && d.TryGetProperty("spatialLayer", out var s) && s.ValueKind == JsonValueKind.Number && s.GetInt32() == 0, Wait);

            // The stats panel: each answer is a list of objects (it maps over them and prints their keys).
            CheckStats(await alice.Protoo.RequestAsync("getTransportStats", new { transportId = alice.SendId }), "webrtc-transport");
            CheckStats(await bob.Protoo.RequestAsync("getTransportStats", new { transportId = bob.RecvId }), "webrtc-transport");
            CheckStats(await alice.Protoo.RequestAsync("getProducerStats", new { producerId = micId }), "inbound-rtp");
            CheckStats(await alice.Protoo.RequestAsync("getProducerStats", new { producerId = webcamId }), "inbound-rtp");
            CheckStats(await bob.Protoo.RequestAsync("getConsumerStats", new { consumerId = audioConsumerId }), "outbound-rtp");
            CheckStats(await bob.Protoo.RequestAsync("getConsumerStats", new { consumerId = videoConsumerId }), "outbound-rtp");
            CheckStats(await alice.Protoo.RequestAsync("getDataProducerStats", new { dataProducerId = chatId }), "data-producer");
            CheckStats(await alice.Protoo.RequestAsync("getDataProducerStats", new { dataProducerId = botId }), "data-producer");
            CheckStats(await bob.Protoo.RequestAsync("getDataConsumerStats", new { dataConsumerId = chatConsumerId }), "data-consumer");

            // muteMic / unmuteMic: Bob's consumer follows.
            await alice.Protoo.RequestAsync("pauseProducer", new { producerId = micId });
            await bob.Protoo.WaitNotificationAsync("consumerPaused", d => Str(d, "consumerId") == audioConsumerId, Wait);
            await alice.Protoo.RequestAsync("resumeProducer", new { producerId = micId });
            await bob.Protoo.WaitNotificationAsync("consumerResumed", d => Str(d, "consumerId") == audioConsumerId, Wait);

            // changeDisplayName.
            await alice.Protoo.RequestAsync("changeDisplayName", new { displayName = "Alice B." });
            var renamed = await bob.Protoo.WaitNotificationAsync("peerDisplayNameChanged", timeout: Wait);
            Assert.Equal(("alice", "Alice B.", "Alice"), (Str(renamed, "peerId"), Str(renamed, "displayName"), Str(renamed, "oldDisplayName")));

            // restartIce on both transports: new ICE parameters the client takes, and media goes on.
            foreach (var transportId in new[] { bob.SendId, bob.RecvId })
            {
                var ice = await bob.Protoo.RequestAsync("restartIce", new { transportId });
                Str(ice, "usernameFragment");
                Str(ice, "password");
                Assert.True(ice.GetProperty("iceLite").GetBoolean());
                if (transportId == bob.RecvId) bob.Recv.RestartIce(ice.Deserialize<IceParameters>(ServerJson.Options)!);
            }
            var before = bob.Recv.ReceivedRtp.Count;
            Assert.True(await WebRtcTestClient.WaitUntilAsync(() => bob.Recv.ReceivedRtp.Count > before + 20, Wait), "media after restartIce");

            // The mic goes quiet: nobody is speaking, an explicit null.
            await stopAudio.CancelAsync();
            var silence = await bob.Protoo.WaitNotificationAsync("activeSpeaker", d => d.TryGetProperty("peerId", out var p) && p.ValueKind != JsonValueKind.String, Wait);
            Assert.Equal(JsonValueKind.Null, Member(silence, "peerId").ValueKind);

            // disableWebcam.
            await alice.Protoo.RequestAsync("closeProducer", new { producerId = webcamId });
            await bob.Protoo.WaitNotificationAsync("consumerClosed", d => Str(d, "consumerId") == videoConsumerId, Wait);

            // Alice leaves: Bob closes what he consumed from her and removes her tile.
            await stopVideo.CancelAsync();
            await media;
            await alice.DisposeAsync();
            await bob.Protoo.WaitNotificationAsync("consumerClosed", d => Str(d, "consumerId") == audioConsumerId, Wait);
            await bob.Protoo.WaitNotificationAsync("dataConsumerClosed", d => Str(d, "dataConsumerId") == chatConsumerId, Wait);
            Assert.Equal("alice", Str(await bob.Protoo.WaitNotificationAsync("peerClosed", timeout: Wait), "peerId"));

            // Nothing the app would not understand.
            foreach (var peer in new[] { alice, bob })
            {
                Assert.All(peer.Protoo.Notifications, n => Assert.Contains(n.Method, AppNotifications));
                Assert.All(peer.Protoo.ServerRequests, r => Assert.Contains(r.Method, AppServerRequests));
                Assert.Empty(peer.FailedServerRequests);
            }
        }
        finally
        {
            await stopAudio.CancelAsync();
            await stopVideo.CancelAsync();
            await media;
            await alice.DisposeAsync();
        }
    }

    private static string CheckNewConsumer(JsonElement request, string peerId, string kind)
    {
        Assert.Equal(peerId, Str(request, "peerId"));
        Str(request, "producerId");
        Assert.Equal(kind, Str(request, "kind"));
        Assert.Contains(Str(request, "type"), new[] { "simple", "simulcast", "svc" });
        Assert.Equal(JsonValueKind.Object, Obj(request, "appData").ValueKind);   // the app reads appData.share
        Assert.Equal(JsonValueKind.False, Member(request, "producerPaused").ValueKind);
        var rtp = Obj(request, "rtpParameters");
        // codec: the part of codecs[0].mimeType after the slash; layers: parseScalabilityMode(encodings[0].scalabilityMode).
        Assert.Contains('/', Str(Arr(rtp, "codecs")[0], "mimeType"));
        var encoding = Arr(rtp, "encodings")[0];
        if (kind == "video") Assert.Matches("^L[1-9]T[1-9]", Str(encoding, "scalabilityMode"));
        return Str(request, "id");
    }

    private static void CheckStats(JsonElement stats, string type)
    {
        Assert.Equal(JsonValueKind.Array, stats.ValueKind);
        Assert.NotEmpty(stats.EnumerateArray());
        Assert.All(stats.EnumerateArray(), s => Assert.Equal(JsonValueKind.Object, s.ValueKind));
        Assert.Contains(stats.EnumerateArray(), s => Str(s, "type") == type);
    }

    private static JsonElement Member(JsonElement e, string name)
    {
        Assert.True(e.TryGetProperty(name, out var value), $"{name} missing in {e}");
        return value;
    }

    private static string Str(JsonElement e, string name)
    {
        var value = Member(e, name);
        Assert.True(value.ValueKind == JsonValueKind.String, $"{name} is not a string in {e}");
        return value.GetString()!;
    }

    private static double Num(JsonElement e, string name)
    {
        var value = Member(e, name);
        Assert.True(value.ValueKind == JsonValueKind.Number, $"{name} is not a number in {e}");
        return value.GetDouble();
    }

    private static JsonElement Obj(JsonElement e, string name)
    {
        var value = Member(e, name);
        Assert.True(value.ValueKind == JsonValueKind.Object, $"{name} is not an object in {e}");
        return value;
    }

    private static JsonElement Arr(JsonElement e, string name)
    {
        var value = Member(e, name);
        Assert.True(value.ValueKind == JsonValueKind.Array, $"{name} is not an array in {e}");
        return value;
    }

    private static JsonElement CheckTransportInfo(JsonElement info)
    {
        Str(info, "id");
        var ice = Obj(info, "iceParameters");
        Str(ice, "usernameFragment");
        Str(ice, "password");
        Assert.NotEmpty(Arr(info, "iceCandidates").EnumerateArray());
        Assert.All(Arr(info, "iceCandidates").EnumerateArray(), c =>
        {
            Str(c, "foundation");
            Num(c, "priority");
            Str(c, "address");
            Str(c, "protocol");
            Num(c, "port");
            Assert.Equal("host", Str(c, "type"));
        });
        var dtls = Obj(info, "dtlsParameters");
        Assert.Equal("auto", Str(dtls, "role"));
        Assert.All(Arr(dtls, "fingerprints").EnumerateArray(), f => { Str(f, "algorithm"); Str(f, "value"); });
        var sctp = Obj(info, "sctpParameters");
        foreach (var field in new[] { "port", "OS", "MIS", "maxMessageSize" }) Num(sctp, field);
        return info;
    }

    private const uint MicSsrc = 31110001;
    private const uint LowSsrc = 32220001;
    private const uint HighSsrc = 32220002;

    // What Chrome's mediasoup-client sends for the app's mic (opusStereo, opusDtx, opusFec, opusNack) and its
    // webcam with two simulcast streams (L1T3, as enableWebcamLayers), on one transport (one CNAME).
    private static readonly string MicParameters = $$$"""
        {"mid":"0","codecs":[{"mimeType":"audio/opus","payloadType":111,"clockRate":48000,"channels":2,
          "parameters":{"minptime":10,"useinbandfec":1,"sprop-stereo":1,"usedtx":1},
          "rtcpFeedback":[{"type":"transport-cc","parameter":""},{"type":"nack","parameter":""}]}],
         "headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":4,"encrypt":false,"parameters":{}},
          {"uri":"urn:ietf:params:rtp-hdrext:ssrc-audio-level","id":10,"encrypt":false,"parameters":{}}],
         "encodings":[{"ssrc":{{{MicSsrc}}},"dtx":true}],"rtcp":{"cname":"alice-cname","reducedSize":true}}
        """;

    private static readonly string WebcamParameters = $$$"""
        {"mid":"1","codecs":[{"mimeType":"video/VP8","payloadType":96,"clockRate":90000,"parameters":{},
          "rtcpFeedback":[{"type":"goog-remb","parameter":""},{"type":"transport-cc","parameter":""},{"type":"ccm","parameter":"fir"},
           {"type":"nack","parameter":""},{"type":"nack","parameter":"pli"}]}],
         "headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":4,"encrypt":false,"parameters":{}}],
         "encodings":[{"ssrc":{{{LowSsrc}}},"maxBitrate":500000,"scaleResolutionDownBy":2,"scalabilityMode":"L1T3"},
          {"ssrc":{{{HighSsrc}}},"maxBitrate":1000000,"scaleResolutionDownBy":1,"scalabilityMode":"L1T3"}],
         "rtcp":{"cname":"alice-cname","reducedSize":true}}
        """;

    /// <summary>
    /// A speaking mic (Opus every 20 ms with an audio level of -20 dBov) and a webcam (both simulcast streams,
    /// a key frame every 15 frames, temporal layer 0), until each is stopped.
    /// </summary>
    private static async Task SendMediaAsync(WebRtcTestClient sender, CancellationToken stopAudio, CancellationToken stopVideo)
    {
        var buffer = new byte[1500];
        var opus = new byte[60];
        var vp8 = new byte[300];
        for (var tick = 0; !stopVideo.IsCancellationRequested; tick++)
        {
            if (!stopAudio.IsCancellationRequested)
            {
                var w = new RtpPacketWriter(buffer, 111, (ushort)tick, (uint)(tick * 960), MicSsrc);
                w.AddExtension(4, "0"u8);
                w.AddExtension(10, [0x80 | 20]);
                sender.SendRtp(buffer.AsSpan(0, w.SetPayload(opus)));
            }
            if (tick % 2 == 0)
            {
                var frame = tick / 2;
                foreach (var (ssrc, offset) in new[] { (LowSsrc, 0), (HighSsrc, 1000) })
                {
                    var w = new RtpPacketWriter(buffer, 96, (ushort)(frame + offset), (uint)(frame * 3000), ssrc, marker: true);
                    w.AddExtension(4, "1"u8);
                    WriteVp8(vp8, pictureId: frame + offset, tl0: (byte)frame, keyFrame: frame % 15 == 0);
                    sender.SendRtp(buffer.AsSpan(0, w.SetPayload(vp8)));
                }
            }
            try { await Task.Delay(20, stopVideo); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>RFC 7741's descriptor (X, S; I with a 15-bit PictureID, L, T with TID 0 and Y) and a VP8 frame header.</summary>
    private static void WriteVp8(byte[] payload, int pictureId, byte tl0, bool keyFrame)
    {
        payload[0] = 0x90;
        payload[1] = 0xE0;
        payload[2] = (byte)(0x80 | (pictureId >> 8) & 0x7F);
        payload[3] = (byte)pictureId;
        payload[4] = tl0;
        payload[5] = 0x20;
        // Frame tag: P=0 for a key frame, then (key frames) the start code and 640x360.
        payload[6] = keyFrame ? (byte)0x10 : (byte)0x11;
        byte[] keyHeader = [0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0x68, 0x01];
        if (keyFrame) keyHeader.CopyTo(payload, 7);
        else Array.Clear(payload, 7, keyHeader.Length);
    }

    /// <summary>One tab of the app: its protoo peer, its send and receive transports, as RoomClient._joinRoom sets them up.</summary>
    private sealed class DemoPeer : IAsyncDisposable
    {
        private readonly object _gate = new();
        private Task? _recvConnect;
        private int _disposed;

        private DemoPeer(ProtooTestClient protoo) => Protoo = protoo;

        public ProtooTestClient Protoo { get; }
        public WebRtcTestClient Send { get; } = new();
        public WebRtcTestClient Recv { get; } = new();
        public JsonElement SendInfo { get; private set; }
        public JsonElement RecvInfo { get; private set; }
        public string SendId => SendInfo.GetProperty("id").GetString()!;
        public string RecvId => RecvInfo.GetProperty("id").GetString()!;
        public JsonElement Joined { get; private set; }
        public System.Collections.Concurrent.ConcurrentQueue<string> FailedServerRequests { get; } = new();

        /// <summary>Connects, loads the router's capabilities, creates both transports with data channels, joins.</summary>
        public static async Task<DemoPeer> JoinAsync(string url, string room, string peerId, string displayName)
        {
            var peer = new DemoPeer(await ProtooTestClient.ConnectAsync(url, room, peerId));
            peer.Protoo.AcceptServerRequestAsync = peer.AcceptAsync;
            var caps = await peer.Protoo.RequestAsync("getRouterRtpCapabilities");
            Assert.NotEmpty(Arr(caps, "codecs").EnumerateArray());
            Arr(caps, "headerExtensions");
            peer.SendInfo = CheckTransportInfo(await peer.Protoo.RequestAsync("createWebRtcTransport",
                new { forceTcp = false, producing = true, consuming = false, sctpCapabilities = SctpCapabilities }));
            peer.RecvInfo = CheckTransportInfo(await peer.Protoo.RequestAsync("createWebRtcTransport",
                new { forceTcp = false, producing = false, consuming = true, sctpCapabilities = SctpCapabilities }));
            peer.Joined = await peer.Protoo.RequestAsync("join",
                new { displayName, device = Device, rtpCapabilities = caps, sctpCapabilities = SctpCapabilities });
            return peer;
        }

        public Task<JsonElement> WaitServerRequestAsync(string method, Func<JsonElement, bool> match) =>
            WaitForAsync(() => Protoo.ServerRequests.Where(r => r.Method == method && match(r.Data)).Select(r => (JsonElement?)r.Data).FirstOrDefault(), method);

        /// <summary>The send transport's connect event (on the first produce) and the browser's ICE, DTLS and SCTP.</summary>
        public Task ConnectSendAsync() => ConnectAsync(SendInfo, Send);

        public async Task<string> ProduceAsync(string kind, string rtpParameters, object appData)
        {
            var answer = await Protoo.RequestAsync("produce", new JsonObject
            {
                ["transportId"] = SendId, ["kind"] = kind, ["rtpParameters"] = JsonNode.Parse(rtpParameters), ["appData"] = JsonSerializer.SerializeToNode(appData),
            });
            return Str(answer, "id");
        }

        /// <summary>mediasoup-client's produceData: a negotiated DataChannel on the next stream, then the request.</summary>
        public async Task<string> ProduceDataAsync(ushort streamId, string label)
        {
            Send.OpenDataChannel(streamId, label: label);
            var answer = await Protoo.RequestAsync("produceData", new
            {
                transportId = SendId, sctpStreamParameters = new { streamId, ordered = true }, label, protocol = "", appData = new { info = $"my-{label}-DataProducer" },
            });
            return Str(answer, "id");
        }

        // RoomClient's request handler: consume()/consumeData() connect the receiving transport first (the
        // connectWebRtcTransport request goes out while the server still waits for this answer), then accept.
        private async Task<bool> AcceptAsync(string method, JsonElement data)
        {
            try
            {
                Task connect;
                lock (_gate) connect = _recvConnect ??= ConnectAsync(RecvInfo, Recv);
                await connect;
                if (method == "newDataConsumer")
                    Recv.OpenDataChannel((ushort)data.GetProperty("sctpStreamParameters").GetProperty("streamId").GetInt32(), label: data.GetProperty("label").GetString()!);
                return AppServerRequests.Contains(method);
            }
            catch (Exception e)
            {
                FailedServerRequests.Enqueue($"{method}: {e.Message}");
                return false;
            }
        }

        private async Task ConnectAsync(JsonElement info, WebRtcTestClient media)
        {
            // As the app: iceParameters is undefined in the connect event, so only dtlsParameters go.
            await Protoo.RequestAsync("connectWebRtcTransport", new JsonObject
            {
                ["transportId"] = info.GetProperty("id").GetString(), ["dtlsParameters"] = JsonSerializer.SerializeToNode(media.DtlsParameters, ServerJson.Options),
            });
            await media.ConnectAsync(
                info.GetProperty("iceParameters").Deserialize<IceParameters>(ServerJson.Options)!,
                info.GetProperty("iceCandidates").Deserialize<List<IceCandidate>>(ServerJson.Options)!,
                info.GetProperty("dtlsParameters").Deserialize<DtlsParameters>(ServerJson.Options)!,
                Wait,
                info.GetProperty("sctpParameters").Deserialize<SctpParameters>(ServerJson.Options));
            await media.WaitSctpConnectedAsync(Wait);
        }

        private static async Task<JsonElement> WaitForAsync(Func<JsonElement?> find, string what)
        {
            var deadline = DateTime.UtcNow + Wait;
            while (DateTime.UtcNow < deadline)
            {
                if (find() is { } found) return found;
                await Task.Delay(20);
            }
            throw new TimeoutException($"no {what}");
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            await Protoo.DisposeAsync();
            Send.Dispose();
            Recv.Dispose();
        }
    }
}
