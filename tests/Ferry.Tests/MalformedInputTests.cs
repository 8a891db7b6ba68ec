using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Protocols.Ortc;
using Ferry.Data;
using Ferry.Rtp;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

using Ferry.Tests.Transports;

namespace Ferry.Tests;

/// <summary>
/// Every malformed input gets mediasoup's TypeError kind (<see cref="ArgumentException"/>), never an
/// exception from deep inside (issue 16, finding 7): valid requests as mediasoup-client sends them,
/// mutated mechanically (null put in every array and in place of every element, every field set to
/// null), read with the ORTC JSON types and given to the engine.
/// </summary>
public sealed class MalformedInputTests : OneRouter
{
    internal const string SimulcastParameters = """
        {"mid":"0","codecs":[
          {"mimeType":"video/VP8","payloadType":96,"clockRate":90000,"parameters":{"x-google-start-bitrate":1000},
           "rtcpFeedback":[{"type":"goog-remb","parameter":""},{"type":"nack"},{"type":"nack","parameter":"pli"}]},
          {"mimeType":"video/rtx","payloadType":97,"clockRate":90000,"parameters":{"apt":96},"rtcpFeedback":[]}],
         "headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":4,"encrypt":false,"parameters":{}},
           {"uri":"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id","id":10,"encrypt":false,"parameters":{}}],
         "encodings":[{"rid":"r0","active":true,"maxBitrate":100000,"scaleResolutionDownBy":4,"scalabilityMode":"L1T3","dtx":false},
           {"rid":"r1","active":true,"maxBitrate":300000,"scaleResolutionDownBy":2,"scalabilityMode":"L1T3"},
           {"ssrc":1234,"rtx":{"ssrc":1235},"maxBitrate":900000,"scalabilityMode":"L1T3"}],
         "rtcp":{"cname":"abc","reducedSize":true}}
        """;

    internal const string Capabilities = """
        {"codecs":[
          {"mimeType":"audio/opus","kind":"audio","preferredPayloadType":100,"clockRate":48000,"channels":2,
           "parameters":{"minptime":10,"useinbandfec":1},"rtcpFeedback":[{"type":"transport-cc","parameter":""}]},
          {"mimeType":"video/VP8","kind":"video","preferredPayloadType":101,"clockRate":90000,"parameters":{},
           "rtcpFeedback":[{"type":"nack","parameter":""},{"type":"nack","parameter":"pli"},{"type":"ccm","parameter":"fir"}]},
          {"mimeType":"video/rtx","kind":"video","preferredPayloadType":102,"clockRate":90000,"parameters":{"apt":101},"rtcpFeedback":[]}],
         "headerExtensions":[{"kind":"video","uri":"urn:ietf:params:rtp-hdrext:sdes:mid","preferredId":1,"preferredEncrypt":false,"direction":"sendrecv"},
           {"kind":"audio","uri":"urn:ietf:params:rtp-hdrext:sdes:mid","preferredId":1,"preferredEncrypt":false,"direction":"sendrecv"}]}
        """;

    internal const string Dtls = """
        {"role":"client","fingerprints":[{"algorithm":"sha-256","value":"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"}]}
        """;

    internal const string MediaCodecs = """
        [{"kind":"audio","mimeType":"audio/opus","clockRate":48000,"channels":2,"parameters":{"useinbandfec":1},"rtcpFeedback":[{"type":"transport-cc"}]},
         {"kind":"video","mimeType":"video/VP8","clockRate":90000,"parameters":{"x-google-start-bitrate":1000}}]
        """;

    internal const string Srtp = """{"cryptoSuite":"AES_CM_128_HMAC_SHA1_80","keyBase64":"ZnQ3eWJraDg0d3ZoYzM5cXN1Y2pnaHU5NWxrYTNi"}""";

    /// <summary>
    /// Mechanical mutations of <paramref name="json"/>: null inserted first in every array, every array
    /// element replaced by null, every object member set to null, every array emptied.
    /// </summary>
    internal static IEnumerable<(string What, string Json)> Mutations(string json)
    {
        var root = JsonNode.Parse(json)!;
        foreach (var path in Paths(root, "$"))
        {
            var node = Find(root, path.Path)!;
            if (node is JsonArray array)
            {
                yield return ($"{path.Path}: null first", Mutate(root, path.Path, n => ((JsonArray)n!).Insert(0, null)));
                yield return ($"{path.Path}: []", Mutate(root, path.Path, n => ((JsonArray)n!).Clear()));
                for (var i = 0; i < array.Count; i++)
                {
                    var index = i;
                    yield return ($"{path.Path}[{i}] = null", Mutate(root, path.Path, n => ((JsonArray)n!)[index] = null));
                }
            }
            if (node is JsonObject obj)
            {
                foreach (var name in obj.Select(kv => kv.Key).ToList())
                    yield return ($"{path.Path}.{name} = null", Mutate(root, path.Path, n => ((JsonObject)n!)[name] = null));
            }
        }
    }

    private static IEnumerable<(string Path, JsonNode Node)> Paths(JsonNode node, string path)
    {
        yield return (path, node);
        if (node is JsonArray a)
        {
            for (var i = 0; i < a.Count; i++)
                if (a[i] is { } child) foreach (var p in Paths(child, $"{path}[{i}]")) yield return p;
        }
        else if (node is JsonObject o)
        {
            foreach (var (name, child) in o)
                if (child is not null) foreach (var p in Paths(child, $"{path}.{name}")) yield return p;
        }
    }

    private static JsonNode? Find(JsonNode root, string path)
    {
        var node = root;
        foreach (var part in path[1..].Replace("[", ".[", StringComparison.Ordinal).Split('.', StringSplitOptions.RemoveEmptyEntries))
            node = part.StartsWith('[') ? node![int.Parse(part[1..^1], System.Globalization.CultureInfo.InvariantCulture)] : node![part];
        return node;
    }

    private static string Mutate(JsonNode root, string path, Action<JsonNode?> change)
    {
        var copy = root.DeepClone();
        change(Find(copy, path));
        return copy.ToJsonString();
    }

    private static readonly JsonSerializerOptions JsonOptions = new(OrtcJson.Default.Options)
    {
        TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.Combine(OrtcJson.Default, new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver()),
    };

    private static void Check(IEnumerable<string> failures)
    {
        var list = failures.ToList();
        if (list.Count > 0) Assert.Fail($"{list.Count} inputs failed otherwise than with an ArgumentException:\n" + string.Join("\n", list));
    }

    /// <summary>Null when the JSON layer refuses it (the server answers that as a bad request).</summary>
    private static T? Read<T>(string json) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, JsonOptions);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Runs <paramref name="call"/>; anything but success or the error kinds mediasoup uses for bad input is a failure, reported with the input.</summary>
    private static async Task<string?> Outcome(string what, Func<Task> call)
    {
        try
        {
            await call();
            return null;
        }
        catch (Exception e) when (e is ArgumentException or UnsupportedException)
        {
            return null;
        }
        catch (Exception e)
        {
            return $"{what}: {e.GetType().Name}: {e.Message} {e.StackTrace?.Split('\n')[0]}";
        }
    }

    [Fact]
    public async Task Produce_with_nulls_anywhere_answers_argument_errors()
    {
        var transport = await _router.CreateWebRtcTransportAsync(Loopback);
        var failures = new List<string>();
        foreach (var (what, json) in Mutations(SimulcastParameters))
        {
            var parameters = Read<RtpParameters>(json);
            if (parameters is null) continue;
            var failure = await Outcome(what, async () =>
            {
                var producer = await transport.ProduceAsync(new ProducerOptions { Kind = MediaKind.Video, RtpParameters = parameters });
                await producer.CloseAsync();
            });
            if (failure is not null) failures.Add(failure);
        }
        Check(failures);
        Assert.NotEmpty(Mutations(SimulcastParameters));
    }

    /// <summary>
    /// Issue 16, finding 10: parameters well-formed but out of any sane range are refused with an
    /// ArgumentException that says why; the bounds are in docs/engine.md.
    /// </summary>
    [Fact]
    public async Task Absurd_parameters_are_refused_and_sane_ones_accepted()
    {
        var transport = await _router.CreateWebRtcTransportAsync(Loopback);
        RtpParameters Simulcast(Action<JsonObject> change)
        {
            var node = JsonNode.Parse(SimulcastParameters)!.AsObject();
            change(node);
            return Read<RtpParameters>(node.ToJsonString()) ?? throw new InvalidOperationException("test input does not parse");
        }
        JsonArray Encodings(JsonObject p) => p["encodings"]!.AsArray();
        var refused = new (string What, RtpParameters Parameters, string Reason)[]
        {
            ("2000 encodings", Simulcast(p => { Encodings(p).Clear(); for (var i = 0; i < 2000; i++) Encodings(p).Add(new JsonObject { ["rid"] = $"r{i}" }); }), "too many entries in encodings"),
            ("17 encodings", Simulcast(p => { Encodings(p).Clear(); for (var i = 0; i < 17; i++) Encodings(p).Add(new JsonObject { ["ssrc"] = 1000 + i }); }), "too many entries in encodings"),
            ("L99T99", Simulcast(p => { Encodings(p).Clear(); Encodings(p).Add(new JsonObject { ["ssrc"] = 1, ["scalabilityMode"] = "L99T99" }); }), "scalabilityMode"),
            ("L1T9", Simulcast(p => Encodings(p)[0]!["scalabilityMode"] = "L1T9"), "scalabilityMode"),
            ("negative maxBitrate", Simulcast(p => Encodings(p)[0]!["maxBitrate"] = -1), "maxBitrate"),
            ("maxBitrate above 2^32", Simulcast(p => Encodings(p)[0]!["maxBitrate"] = 1L << 40), "maxBitrate"),
            ("scaleResolutionDownBy 0.5", Simulcast(p => Encodings(p)[0]!["scaleResolutionDownBy"] = 0.5), "scaleResolutionDownBy"),
            ("negative maxFramerate", Simulcast(p => Encodings(p)[0]!["maxFramerate"] = -30), "maxFramerate"),
            ("rid of 17 characters", Simulcast(p => Encodings(p)[0]!["rid"] = new string('r', 17)), "rid"),
            ("rid with a space", Simulcast(p => Encodings(p)[0]!["rid"] = "r 0"), "rid"),
            ("duplicated rid", Simulcast(p => Encodings(p)[1]!["rid"] = "r0"), "duplicated encoding.rid"),
            ("duplicated ssrc", Simulcast(p => Encodings(p)[2]!["rtx"]!["ssrc"] = 1234), "rtx.ssrc"),
            ("rtx ssrc 0", Simulcast(p => Encodings(p)[2]!["rtx"]!["ssrc"] = 0), "rtx.ssrc"),
            ("payload type 128", Simulcast(p => p["codecs"]![0]!["payloadType"] = 128), "payloadType"),
            ("negative payload type", Simulcast(p => p["codecs"]![0]!["payloadType"] = -1), "payloadType"),
            ("header extension id 0", Simulcast(p => p["headerExtensions"]![0]!["id"] = 0), "ext.id"),
            ("header extension id 256", Simulcast(p => p["headerExtensions"]![0]!["id"] = 256), "ext.id"),
            ("duplicated header extension id", Simulcast(p => p["headerExtensions"]![1]!["id"] = 4), "duplicated ext.id"),
            ("200 header extensions", Simulcast(p => { for (var i = 0; i < 200; i++) p["headerExtensions"]!.AsArray().Add(new JsonObject { ["uri"] = $"urn:x:{i}", ["id"] = 20 + i }); }), "too many entries in headerExtensions"),
            ("200 feedback entries", Simulcast(p => { for (var i = 0; i < 200; i++) p["codecs"]![0]!["rtcpFeedback"]!.AsArray().Add(new JsonObject { ["type"] = "nack" }); }), "too many entries in rtcpFeedback"),
            ("200 codec parameters", Simulcast(p => { for (var i = 0; i < 200; i++) p["codecs"]![0]!["parameters"]![$"p{i}"] = i; }), "too many codec parameters"),
            ("mid of 17 characters", Simulcast(p => p["mid"] = new string('m', 17)), "mid"),
            ("cname of 256 characters", Simulcast(p => p["rtcp"]!["cname"] = new string('c', 256)), "cname"),
        };
        var failures = new List<string>();
        foreach (var (what, parameters, reason) in refused)
        {
            try
            {
                await transport.ProduceAsync(new ProducerOptions { Kind = MediaKind.Video, RtpParameters = parameters });
                failures.Add($"{what}: accepted");
            }
            catch (ArgumentException e) when (e.Message.Contains(reason, StringComparison.Ordinal)) { }
            catch (Exception e)
            {
                failures.Add($"{what}: {e.GetType().Name}: {e.Message}");
            }
        }
        Check(failures);
        Assert.Empty(await transport.GetProducersAsync());

        // mediasoup's reading of falsy values: ssrc 0 and rid "" are absent (with a mid, a single encoding needs neither).
        var zero = await transport.ProduceAsync(new ProducerOptions
        {
            Kind = MediaKind.Video, RtpParameters = Simulcast(p => { Encodings(p).Clear(); Encodings(p).Add(new JsonObject { ["ssrc"] = 0, ["rid"] = "", ["scalabilityMode"] = "L1T3" }); }),
        });
        Assert.Null(zero.RtpParameters.Encodings![0].Ssrc);
        Assert.Null(zero.RtpParameters.Encodings![0].Rid);
        await zero.CloseAsync();
        // The bounds themselves are accepted: 16 encodings, 8 temporal layers, a 16-character rid.
        var wide = await transport.ProduceAsync(new ProducerOptions
        {
            Kind = MediaKind.Video,
            RtpParameters = Simulcast(p =>
            {
                Encodings(p).Clear();
                for (var i = 0; i < 15; i++) Encodings(p).Add(new JsonObject { ["rid"] = $"r{i}", ["scalabilityMode"] = "L1T8", ["maxBitrate"] = uint.MaxValue });
                Encodings(p).Add(new JsonObject { ["rid"] = new string('x', 16) });
            }),
        });
        Assert.Equal(16, wide.RtpParameters.Encodings!.Count);

        // Capabilities: out-of-range payload types and ids, too many codecs.
        var caps = JsonNode.Parse(Capabilities)!.AsObject();
        caps["codecs"]![0]!["preferredPayloadType"] = 300;
        await Assert.ThrowsAsync<ArgumentException>(() => transport.ConsumeAsync(new ConsumerOptions { ProducerId = wide.Id, RtpCapabilities = Read<RtpCapabilities>(caps.ToJsonString())! }));
        caps = JsonNode.Parse(Capabilities)!.AsObject();
        caps["headerExtensions"]![0]!["preferredId"] = 0;
        await Assert.ThrowsAsync<ArgumentException>(() => transport.ConsumeAsync(new ConsumerOptions { ProducerId = wide.Id, RtpCapabilities = Read<RtpCapabilities>(caps.ToJsonString())! }));
        caps = JsonNode.Parse(Capabilities)!.AsObject();
        for (var i = 0; i < 200; i++) caps["codecs"]!.AsArray().Add(caps["codecs"]![0]!.DeepClone());
        var many = Read<RtpCapabilities>(caps.ToJsonString())!;
        Assert.Contains("too many", (await Assert.ThrowsAsync<ArgumentException>(() => transport.ConsumeAsync(new ConsumerOptions { ProducerId = wide.Id, RtpCapabilities = many }))).Message, StringComparison.Ordinal);
        Assert.False(_router.CanConsume(wide.Id, many));
    }

    [Fact]
    public async Task Consume_and_canConsume_with_nulls_anywhere_answer_argument_errors_or_false()
    {
        var sender = await _router.CreateWebRtcTransportAsync(Loopback);
        var producer = await sender.ProduceAsync(Vp8Producer());
        var receiver = await _router.CreateWebRtcTransportAsync(Loopback);
        var failures = new List<string>();
        foreach (var (what, json) in Mutations(Capabilities))
        {
            var caps = Read<RtpCapabilities>(json);
            if (caps is null) continue;
            var failure = await Outcome(what, async () =>
            {
                _ = _router.CanConsume(producer.Id, caps);
                var consumer = await receiver.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = caps });
                await consumer.CloseAsync();
            });
            if (failure is not null) failures.Add(failure);
        }
        Check(failures);
    }

    [Fact]
    public async Task Connect_with_nulls_anywhere_answers_argument_errors()
    {
        var failures = new List<string>();
        foreach (var (what, json) in Mutations(Dtls))
        {
            var dtls = Read<DtlsParameters>(json);
            if (dtls is null) continue;
            var transport = await _router.CreateWebRtcTransportAsync(Loopback);
            var failure = await Outcome(what, () => transport.ConnectAsync(dtls));
            if (failure is not null) failures.Add(failure);
            await transport.CloseAsync();
        }
        foreach (var (what, json) in Mutations(Srtp))
        {
            var srtp = Read<SrtpParameters>(json);
            if (srtp is null) continue;
            var transport = await _router.CreatePlainTransportAsync(new PlainTransportOptions { ListenInfo = new TransportListenInfo { Ip = "127.0.0.1" }, EnableSrtp = true });
            var failure = await Outcome(what, () => transport.ConnectAsync("127.0.0.1", 9, srtpParameters: srtp));
            if (failure is not null) failures.Add(failure);
            await transport.CloseAsync();
        }
        Check(failures);
    }

    [Fact]
    public async Task CreateRouter_with_nulls_anywhere_answers_argument_errors()
    {
        var failures = new List<string>();
        foreach (var (what, json) in Mutations(MediaCodecs))
        {
            var codecs = Read<List<RtpCodecCapability>>(json);
            if (codecs is null) continue;
            var failure = await Outcome(what, async () => await (await _worker.CreateRouterAsync(new RouterOptions { MediaCodecs = codecs })).CloseAsync().ConfigureAwait(false));
            if (failure is not null) failures.Add(failure);
        }
        Check(failures);
    }

    [Fact]
    public async Task ProduceData_with_nulls_anywhere_answers_argument_errors()
    {
        var transport = await _router.CreateWebRtcTransportAsync(Loopback with { EnableSctp = true });
        var failures = new List<string>();
        foreach (var (what, json) in Mutations("""{"streamId":1,"ordered":false,"maxRetransmits":3}"""))
        {
            var sctp = Read<SctpStreamParameters>(json);
            if (sctp is null) continue;
            var failure = await Outcome(what, async () => await (await transport.ProduceDataAsync(new DataProducerOptions { SctpStreamParameters = sctp })).CloseAsync());
            if (failure is not null) failures.Add(failure);
        }
        failures.Add(await Outcome("null options", () => transport.ProduceDataAsync(null!)) ?? "");
        failures.Add(await Outcome("listenInfos:[null]", () => _router.CreateWebRtcTransportAsync(new WebRtcTransportOptions { ListenInfos = [null!] })) ?? "");
        failures.Add(await Outcome("null produce options", () => transport.ProduceAsync(null!)) ?? "");
        failures.Add(await Outcome("null consume options", () => transport.ConsumeAsync(null!)) ?? "");
        failures.Add(await Outcome("null dtls", () => transport.ConnectAsync(null!)) ?? "");
        failures.Add(await Outcome("null rtpParameters", () => transport.ProduceAsync(new ProducerOptions { Kind = MediaKind.Audio, RtpParameters = null! })) ?? "");
        failures.Add(await Outcome("null rtpCapabilities", () => transport.ConsumeAsync(new ConsumerOptions { ProducerId = "x", RtpCapabilities = null! })) ?? "");
        Check(failures.Where(f => f.Length > 0));
    }
}
