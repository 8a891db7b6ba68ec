using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.RtpObservers;
using Ferry.Transports;
using static Ferry.Tests.Transports.MediaFixtures;

namespace Ferry.Tests;

/// <summary>
/// mediasoup's error table (its test-suite's error cases) at the API: the same kinds of error for
/// the same inputs (TypeError → ArgumentException, UnsupportedError → UnsupportedException, Error →
/// InvalidOperationException, InvalidStateError → InvalidStateException), and nothing else changed.
/// </summary>
public sealed class ApiErrorTests : IAsyncLifetime
{
    private Worker _worker = null!;
    private Router _router = null!;
    private WebRtcTransport _transport = null!;

    public async Task InitializeAsync()
    {
        _worker = await Worker.CreateAsync();
        _router = await _worker.CreateRouterAsync(DefaultRouterOptions);
        _transport = await _router.CreateWebRtcTransportAsync(Loopback);
    }

    public async Task DisposeAsync() => await _worker.CloseAsync();

    private static RtpCodecCapability Codec(MediaKind kind, string mime, int clockRate, int? channels = null) =>
        new() { Kind = kind, MimeType = mime, ClockRate = clockRate, Channels = channels };

    [Fact]
    public async Task CreateRouter_with_an_unknown_codec_or_mono_opus_is_unsupported()
    {
        await Assert.ThrowsAsync<UnsupportedException>(() => _worker.CreateRouterAsync(new RouterOptions { MediaCodecs = [Codec(MediaKind.Audio, "audio/chicken", 8000)] }));
        await Assert.ThrowsAsync<UnsupportedException>(() => _worker.CreateRouterAsync(new RouterOptions { MediaCodecs = [Codec(MediaKind.Audio, "audio/opus", 48000, 1)] }));
    }

    [Fact]
    public async Task Produce_rejects_invalid_parameters_unsupported_codecs_and_duplicates()
    {
        var ok = Vp8Producer();
        // TypeError: no codecs; RTX pointing at a missing codec; video without encodings nor mid.
        await Assert.ThrowsAsync<ArgumentException>(() => _transport.ProduceAsync(ok with { RtpParameters = ok.RtpParameters with { Codecs = [] } }));
        await Assert.ThrowsAsync<ArgumentException>(() => _transport.ProduceAsync(ok with
        {
            RtpParameters = ok.RtpParameters with
            {
                Codecs = [ok.RtpParameters.Codecs[0], new RtpCodecParameters { MimeType = "video/rtx", PayloadType = 97, ClockRate = 90000, Parameters = new Dictionary<string, CodecParameterValue> { ["apt"] = 55 } }],
            },
        }));
        await Assert.ThrowsAsync<ArgumentException>(() => _transport.ProduceAsync(ok with { RtpParameters = ok.RtpParameters with { Mid = null, Encodings = [] } }));
        // UnsupportedError: a codec the router lacks.
        var audio = OpusProducer();
        await Assert.ThrowsAsync<UnsupportedException>(() => _transport.ProduceAsync(audio with
        {
            RtpParameters = audio.RtpParameters with { Codecs = [new RtpCodecParameters { MimeType = "audio/ISAC", PayloadType = 104, ClockRate = 32000 }] },
        }));

        // Error: a MID or SSRC already used on this transport.
        await _transport.ProduceAsync(ok);
        await Assert.ThrowsAsync<InvalidOperationException>(() => _transport.ProduceAsync(Vp8Producer(ssrc: 5555, rtxSsrc: 5556, mid: "0")));
        await Assert.ThrowsAsync<InvalidOperationException>(() => _transport.ProduceAsync(Vp8Producer(ssrc: 11111111, rtxSsrc: 5558, mid: "9")));
        Assert.Single(await _transport.GetProducersAsync());
        // Error: no MID, and a single encoding with neither SSRC nor RID (nothing to match packets by).
        var bare = Vp8Producer(mid: "7");
        await Assert.ThrowsAsync<ArgumentException>(() => _transport.ProduceAsync(bare with { RtpParameters = bare.RtpParameters with { Mid = null, Encodings = [new RtpEncodingParameters()] } }));
        Assert.Single(await _transport.GetProducersAsync());
    }

    [Fact]
    public async Task Consume_without_a_compatible_codec_is_unsupported_and_canConsume_says_no()
    {
        var producer = await _transport.ProduceAsync(OpusProducer());
        var isacOnly = new RtpCapabilities { Codecs = [Codec(MediaKind.Audio, "audio/ISAC", 32000, 1) with { PreferredPayloadType = 104 }] };
        Assert.False(_router.CanConsume(producer.Id, isacOnly));
        Assert.False(_router.CanConsume(producer.Id, new RtpCapabilities { Codecs = [] }));
        var consumerSide = await _router.CreateWebRtcTransportAsync(Loopback);
        await Assert.ThrowsAsync<UnsupportedException>(() => consumerSide.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = isacOnly }));
        await Assert.ThrowsAsync<InvalidOperationException>(() => consumerSide.ConsumeAsync(new ConsumerOptions { ProducerId = "nope", RtpCapabilities = _router.RtpCapabilities }));
        Assert.Empty(await consumerSide.GetConsumersAsync());
    }

    [Fact]
    public async Task Consumer_layers_and_priority_are_validated()
    {
        var producer = await _transport.ProduceAsync(Vp8Producer());
        var consumer = await (await _router.CreateWebRtcTransportAsync(Loopback)).ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });
        await Assert.ThrowsAsync<ArgumentException>(() => consumer.SetPreferredLayersAsync(new ConsumerLayers(-1)));
        await Assert.ThrowsAsync<ArgumentException>(() => consumer.SetPriorityAsync(0));
        await Assert.ThrowsAsync<ArgumentException>(() => consumer.SetPriorityAsync(256));
        await consumer.SetPriorityAsync(255);
        Assert.Equal(255, (await consumer.DumpAsync()).Priority);
    }

    [Fact]
    public async Task Connect_checks_its_parameters_and_runs_once()
    {
        var fingerprint = new DtlsFingerprint { Algorithm = "sha-256", Value = string.Join(':', Enumerable.Repeat("AB", 32)) };
        await Assert.ThrowsAsync<ArgumentException>(() => _transport.ConnectAsync(new DtlsParameters { Fingerprints = [] }));
        await Assert.ThrowsAsync<ArgumentException>(() => _transport.ConnectAsync(new DtlsParameters { Fingerprints = [fingerprint with { Algorithm = "sha-257" }] }));
        await _transport.ConnectAsync(new DtlsParameters { Role = DtlsRoleName.Client, Fingerprints = [fingerprint] });
        await Assert.ThrowsAsync<InvalidOperationException>(() => _transport.ConnectAsync(new DtlsParameters { Role = DtlsRoleName.Client, Fingerprints = [fingerprint] }));
        Assert.Equal(DtlsRoleName.Server, _transport.DtlsParameters.Role);
    }

    [Fact]
    public async Task Observers_validate_their_options()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _router.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { MaxEntries = 0 }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { MaxEntries = -10 }));
        await Assert.ThrowsAsync<ArgumentException>(() => _router.CreateAudioLevelObserverAsync(new AudioLevelObserverOptions { Threshold = 10 }));
    }

    [Fact]
    public async Task Methods_on_closed_objects_are_invalid_state_and_close_is_idempotent()
    {
        var producer = await _transport.ProduceAsync(Vp8Producer());
        var consumerSide = await _router.CreateWebRtcTransportAsync(Loopback);
        var consumer = await consumerSide.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities });

        await consumer.CloseAsync();
        await consumer.CloseAsync();
        await Assert.ThrowsAsync<InvalidStateException>(consumer.PauseAsync);
        await Assert.ThrowsAsync<InvalidStateException>(consumer.ResumeAsync);
        await Assert.ThrowsAsync<InvalidStateException>(consumer.RequestKeyFrameAsync);
        await Assert.ThrowsAsync<InvalidStateException>(() => consumer.SetPriorityAsync(2));
        await Assert.ThrowsAsync<InvalidStateException>(() => consumer.SetPreferredLayersAsync(new ConsumerLayers(0)));
        await Assert.ThrowsAsync<InvalidStateException>(consumer.GetStatsAsync);

        await producer.CloseAsync();
        await producer.CloseAsync();
        await Assert.ThrowsAsync<InvalidStateException>(producer.PauseAsync);
        await Assert.ThrowsAsync<InvalidStateException>(producer.ResumeAsync);
        await Assert.ThrowsAsync<InvalidStateException>(producer.GetStatsAsync);

        await _transport.CloseAsync();
        await _transport.CloseAsync();
        await Assert.ThrowsAsync<InvalidStateException>(() => _transport.ProduceAsync(OpusProducer()));
        await Assert.ThrowsAsync<InvalidStateException>(() => _transport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = _router.RtpCapabilities }));
        await Assert.ThrowsAsync<InvalidStateException>(_transport.GetStatsAsync);
        await Assert.ThrowsAsync<InvalidStateException>(_transport.RestartIceAsync);

        await _router.CloseAsync();
        await _router.CloseAsync();
        await Assert.ThrowsAsync<InvalidStateException>(() => _router.CreateWebRtcTransportAsync(Loopback));
        await Assert.ThrowsAsync<InvalidStateException>(() => _router.CreateDirectTransportAsync());

        await _worker.CloseAsync();
        await Assert.ThrowsAsync<InvalidStateException>(() => _worker.CreateRouterAsync(DefaultRouterOptions));
    }
}
