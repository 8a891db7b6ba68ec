using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Transports;

namespace Ferry.PipePeer;

/// <summary>
/// A second Ferry process for tests (test-only, never shipped): one worker and one router (Opus and VP8,
/// as the tests' routers), driven by line-based JSON on stdin, to pipe media between two processes over
/// PipeTransports.
/// <para>
/// Each request is one line <c>{"id":1,"method":"...","data":{...}}</c>; each gets exactly one reply line
/// on stdout, <c>{"id":1,"data":{...}}</c> or <c>{"id":1,"error":"..."}</c>, in order. Unsolicited event
/// lines <c>{"event":"consumer.producerpause","consumerId":"..."}</c> (also <c>producerresume</c> and
/// <c>producerclose</c>) tell the application what it must relay to the other process, as mediasoup's
/// pipeToRouter does in one. Logs go to stderr. The process ends when stdin closes or on <c>close</c>.
/// Only 127.0.0.1 is used.
/// </para>
/// </summary>
internal static class Program
{
    private static async Task<int> Main()
    {
        var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        var peer = await Peer.CreateAsync(output).ConfigureAwait(false);
        Console.Error.WriteLine($"pipepeer: ready, pid {Environment.ProcessId}");
        try
        {
            while (await Console.In.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                await peer.HandleAsync(line).ConfigureAwait(false);
                if (peer.Closing) break;
            }
        }
        finally
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            Console.Error.WriteLine("pipepeer: closed");
        }
        return 0;
    }
}

/// <summary>The worker, router and objects of the process, and the commands on them.</summary>
internal sealed partial class Peer : IAsyncDisposable
{
    private const string Loopback = "127.0.0.1";
    private readonly Worker _worker;
    private readonly Router _router;
    private readonly StreamWriter _output;
    private readonly Lock _outputLock = new();
    private readonly Dictionary<string, Transport> _transports = [];
    private readonly Dictionary<string, Producer> _producers = [];
    private readonly Dictionary<string, Consumer> _consumers = [];

    private Peer(Worker worker, Router router, StreamWriter output)
    {
        _worker = worker;
        _router = router;
        _output = output;
    }

    /// <summary>A <c>close</c> was handled: the process ends.</summary>
    public bool Closing { get; private set; }

    /// <summary>Starts the worker and its router.</summary>
    public static async Task<Peer> CreateAsync(StreamWriter output)
    {
        var worker = await Worker.CreateAsync().ConfigureAwait(false);
        var router = await worker.CreateRouterAsync(new RouterOptions
        {
            MediaCodecs =
            [
                new RtpCodecCapability { Kind = MediaKind.Audio, MimeType = "audio/opus", ClockRate = 48000, Channels = 2 },
                new RtpCodecCapability { Kind = MediaKind.Video, MimeType = "video/VP8", ClockRate = 90000 },
            ],
        }).ConfigureAwait(false);
        return new Peer(worker, router, output);
    }

    /// <summary>Runs one request line and writes its reply line.</summary>
    public async Task HandleAsync(string line)
    {
        var id = -1L;
        JsonNode? result = null;
        string? error = null;
        try
        {
            var request = JsonNode.Parse(line)?.AsObject() ?? throw new ArgumentException("request is not an object");
            id = request["id"]?.GetValue<long>() ?? throw new ArgumentException("missing id");
            var method = request["method"]?.GetValue<string>() ?? throw new ArgumentException("missing method");
            var data = request["data"] as JsonObject ?? [];
            result = await DispatchAsync(method, data).ConfigureAwait(false) ?? new JsonObject();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"pipepeer: request {id} failed: {e}");
            error = $"{e.GetType().Name}: {e.Message}";
        }
        Write(error is null ? new JsonObject { ["id"] = id, ["data"] = result } : new JsonObject { ["id"] = id, ["error"] = error });
    }

    private async Task<JsonNode?> DispatchAsync(string method, JsonObject data) => method switch
    {
        "createPipeTransport" => await CreatePipeTransportAsync(data).ConfigureAwait(false),
        "connectPipeTransport" => await ConnectPipeTransportAsync(data).ConfigureAwait(false),
        "createPlainTransport" => await CreatePlainTransportAsync(data).ConfigureAwait(false),
        "produce" => await ProduceAsync(data).ConfigureAwait(false),
        "consume" => await ConsumeAsync(data).ConfigureAwait(false),
        "pauseProducer" => await Done(Producer(data).PauseAsync()).ConfigureAwait(false),
        "resumeProducer" => await Done(Producer(data).ResumeAsync()).ConfigureAwait(false),
        "closeProducer" => await Done(Producer(data).CloseAsync()).ConfigureAwait(false),
        "producer" => await ProducerStateAsync(Producer(data)).ConfigureAwait(false),
        "consumer" => await ConsumerStateAsync(Consumer(data)).ConfigureAwait(false),
        "transportStats" => await TransportStatsAsync(Transport(data)).ConfigureAwait(false),
        "closeTransport" => await Done(Transport(data).CloseAsync()).ConfigureAwait(false),
        "close" => Close(),
        _ => await DispatchMoveAsync(method, data).ConfigureAwait(false),
    };

    private static async Task<JsonNode?> Done(Task task)
    {
        await task.ConfigureAwait(false);
        return null;
    }

    private JsonNode? Close()
    {
        Closing = true;
        return null;
    }

    private async Task<JsonNode?> CreatePipeTransportAsync(JsonObject data)
    {
        var transport = await _router.CreatePipeTransportAsync(new PipeTransportOptions
        {
            ListenInfo = new TransportListenInfo { Ip = Loopback },
            EnableSrtp = data["enableSrtp"]?.GetValue<bool>() ?? false,
            EnableRtx = data["enableRtx"]?.GetValue<bool>() ?? false,
        }).ConfigureAwait(false);
        _transports[transport.Id] = transport;
        return new JsonObject
        {
            ["id"] = transport.Id,
            ["ip"] = transport.Tuple.LocalAddress,
            ["port"] = transport.Tuple.LocalPort,
            ["srtpParameters"] = transport.SrtpParameters is { } srtp ? JsonSerializer.SerializeToNode(srtp, OrtcJson.Default.SrtpParameters) : null,
        };
    }

    private async Task<JsonNode?> ConnectPipeTransportAsync(JsonObject data)
    {
        if (Transport(data) is not PipeTransport pipe) throw new ArgumentException("not a pipe transport");
        var srtp = data["srtpParameters"]?.Deserialize(OrtcJson.Default.SrtpParameters);
        await pipe.ConnectAsync(RequiredString(data, "ip"), Required(data, "port").GetValue<int>(), srtp).ConfigureAwait(false);
        return null;
    }

    /// <summary>A PlainTransport on 127.0.0.1: comedia, or connected to 127.0.0.1:<c>remotePort</c> when given.</summary>
    private async Task<JsonNode?> CreatePlainTransportAsync(JsonObject data)
    {
        var transport = await _router.CreatePlainTransportAsync(new PlainTransportOptions
        {
            ListenInfo = new TransportListenInfo { Ip = Loopback },
            Comedia = data["comedia"]?.GetValue<bool>() ?? false,
        }).ConfigureAwait(false);
        _transports[transport.Id] = transport;
        if (data["remotePort"]?.GetValue<int>() is { } port) await transport.ConnectAsync(Loopback, port).ConfigureAwait(false);
        return new JsonObject { ["id"] = transport.Id, ["ip"] = transport.Tuple.LocalAddress, ["port"] = transport.Tuple.LocalPort };
    }

    /// <summary>A producer (with the given id: the piped producer, as mediasoup's pipeToRouter makes it from the pipe consumer's parameters).</summary>
    private async Task<JsonNode?> ProduceAsync(JsonObject data)
    {
        var producer = await Transport(data).ProduceAsync(new ProducerOptions
        {
            Id = data["id"]?.GetValue<string>(),
            Kind = Required(data, "kind").Deserialize(OrtcJson.Default.MediaKind),
            RtpParameters = Required(data, "rtpParameters").Deserialize(OrtcJson.Default.RtpParameters) ?? throw new ArgumentException("missing rtpParameters"),
            Paused = data["paused"]?.GetValue<bool>() ?? false,
        }).ConfigureAwait(false);
        _producers[producer.Id] = producer;
        return new JsonObject { ["id"] = producer.Id, ["paused"] = producer.Paused };
    }

    /// <summary>
    /// A consumer: on a pipe transport a pipe consumer (every stream, for the other process's produce), on
    /// another transport a regular one for the router's capabilities without congestion feedback (a plain
    /// RTP receiver sends none).
    /// </summary>
    private async Task<JsonNode?> ConsumeAsync(JsonObject data)
    {
        var transport = Transport(data);
        var producerId = RequiredString(data, "producerId");
        var consumer = transport is PipeTransport pipe
            ? await pipe.ConsumeAsync(new PipeConsumerOptions { ProducerId = producerId }).ConfigureAwait(false)
            : await transport.ConsumeAsync(new ConsumerOptions
            {
                ProducerId = producerId,
                RtpCapabilities = _router.RtpCapabilities with
                {
                    HeaderExtensions = _router.RtpCapabilities.HeaderExtensions!
                        .Where(h => h.Uri is not (RtpHeaderExtensionUris.TransportWideCc01 or RtpHeaderExtensionUris.AbsSendTime)).ToList(),
                },
            }).ConfigureAwait(false);
        _consumers[consumer.Id] = consumer;
        var consumerId = consumer.Id;
        consumer.ProducerPause += () => Event("consumer.producerpause", consumerId);
        consumer.ProducerResume += () => Event("consumer.producerresume", consumerId);
        consumer.ProducerClose += () => Event("consumer.producerclose", consumerId);
        return new JsonObject
        {
            ["id"] = consumer.Id,
            ["producerId"] = consumer.ProducerId,
            ["kind"] = JsonSerializer.SerializeToNode(consumer.Kind, OrtcJson.Default.MediaKind),
            ["type"] = JsonSerializer.SerializeToNode(consumer.Type, OrtcJson.Default.ConsumerType),
            ["rtpParameters"] = JsonSerializer.SerializeToNode(consumer.RtpParameters, OrtcJson.Default.RtpParameters),
            ["paused"] = consumer.Paused,
            ["producerPaused"] = consumer.ProducerPaused,
        };
    }

    private static async Task<JsonNode?> ProducerStateAsync(Producer producer) => new JsonObject
    {
        ["id"] = producer.Id,
        ["paused"] = producer.Paused,
        ["closed"] = producer.Closed,
        ["streams"] = producer.Closed ? new JsonArray() : Streams(await producer.GetStatsAsync().ConfigureAwait(false)),
    };

    private static async Task<JsonNode?> ConsumerStateAsync(Consumer consumer) => new JsonObject
    {
        ["id"] = consumer.Id,
        ["paused"] = consumer.Paused,
        ["producerPaused"] = consumer.ProducerPaused,
        ["closed"] = consumer.Closed,
        ["streams"] = consumer.Closed ? new JsonArray() : Streams((await consumer.GetStatsAsync().ConfigureAwait(false)).Where(s => s.Type == "outbound-rtp").ToList()),
    };

    private static JsonArray Streams(IReadOnlyList<RtpStreamStats> stats) =>
        new(stats.Select(s => (JsonNode)new JsonObject { ["ssrc"] = s.Ssrc, ["packetCount"] = s.PacketCount, ["byteCount"] = s.ByteCount }).ToArray());

    /// <summary>Bytes in and out, and what the transport dropped: SRTP failures, packets from another address, RTP/RTCP it could not route.</summary>
    private static async Task<JsonNode?> TransportStatsAsync(Transport transport)
    {
        var (stats, srtpFailures, unknownTupleDrops) = transport switch
        {
            PipeTransport pipe => ((await pipe.GetStatsAsync().ConfigureAwait(false))[0], pipe.SrtpFailures, pipe.UnknownTupleDrops),
            PlainTransport plain => ((await plain.GetStatsAsync().ConfigureAwait(false))[0], plain.SrtpFailures, plain.UnknownTupleDrops),
            _ => throw new ArgumentException("not a pipe or plain transport"),
        };
        return new JsonObject
        {
            ["type"] = stats.Type,
            ["bytesReceived"] = stats.BytesReceived,
            ["bytesSent"] = stats.BytesSent,
            ["rtpBytesReceived"] = stats.RtpBytesReceived,
            ["srtpFailures"] = srtpFailures,
            ["unknownTupleDrops"] = unknownTupleDrops,
            ["rtpPacketsDropped"] = transport.RtpPacketsDropped,
            ["rtcpPacketsDropped"] = transport.RtcpPacketsDropped,
        };
    }

    private Transport Transport(JsonObject data) =>
        _transports.TryGetValue(RequiredString(data, "transportId"), out var t) ? t : throw new ArgumentException("unknown transportId");

    private Producer Producer(JsonObject data) =>
        _producers.TryGetValue(RequiredString(data, "producerId"), out var p) ? p : throw new ArgumentException("unknown producerId");

    private Consumer Consumer(JsonObject data) =>
        _consumers.TryGetValue(RequiredString(data, "consumerId"), out var c) ? c : throw new ArgumentException("unknown consumerId");

    private static JsonNode Required(JsonObject data, string name) => data[name] ?? throw new ArgumentException($"missing {name}");

    private static string RequiredString(JsonObject data, string name) => Required(data, name).GetValue<string>();

    /// <summary>An event line; raised on the worker's loop, written under the same lock as replies.</summary>
    private void Event(string name, string consumerId) => Write(new JsonObject { ["event"] = name, ["consumerId"] = consumerId });

    private void Write(JsonObject message)
    {
        var text = message.ToJsonString();
        lock (_outputLock)
        {
            try
            {
                _output.WriteLine(text);
            }
            catch (IOException)
            {
                // The test went away: stdin closes too and the process ends.
            }
        }
    }

    public async ValueTask DisposeAsync() => await _worker.CloseAsync().ConfigureAwait(false);
}
