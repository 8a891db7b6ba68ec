using Ferry.Ortc;
using Ferry.Protocols.Ortc;
using static Ferry.Tests.Ortc.OrtcTestData;
using static Ferry.Tests.Ortc.RtpParametersNegotiationTests;

namespace Ferry.Tests.Ortc;

/// <summary>
/// getConsumerRtpParameters and getPipeConsumerRtpParameters rule by rule, and the consumer
/// parameters mediasoup's test-Consumer.ts and test-PipeTransport.ts observe, reproduced at the ORTC level.
/// </summary>
public class ConsumerRtpParametersTests
{
    private static string VideoCaps(string feedback, string extensions = "[]") => $$"""
        {"codecs":[
           {"kind":"video","mimeType":"video/VP8","preferredPayloadType":96,"clockRate":90000,"rtcpFeedback":{{feedback}}},
           {"kind":"video","mimeType":"video/rtx","preferredPayloadType":97,"clockRate":90000,"parameters":{"apt":96} }
         ],
         "headerExtensions":{{extensions}}}
        """;

    private static string CapExt(string kind, string uri, int id) => $$"""{"kind":"{{kind}}","uri":"{{uri}}","preferredId":{{id}}}""";

    private static RtpParameters Vp8Consumable(string encodings = """[{"ssrc":1}]""") =>
        Produce(MediaKind.Video, Params($$"""{"codecs":[{"mimeType":"video/VP8","payloadType":96,"clockRate":90000}],"encodings":{{encodings}},"rtcp":{"cname":"vp8"} }"""),
            Vp8Vp9Router, 1000).Consumable;

    // ---- codecs ----

    [Fact]
    public void Without_rtx_the_rtx_codec_and_plain_nack_go_but_nack_pli_stays()
    {
        var consumer = RtpParametersNegotiation.GetConsumerParameters(MainConsumable, MainRemote, enableRtx: false, ssrc: 111_111_111);
        JsonEqual($$"""
            [{"mimeType":"video/H264","payloadType":101,"clockRate":90000,"parameters":{{MainH264Parameters}},
              "rtcpFeedback":[{"type":"nack","parameter":"pli"},{"type":"foo","parameter":"FOO"}]}]
            """, Json(consumer)["codecs"]);
        JsonEqual("""[{"ssrc":111111111,"scalabilityMode":"L3T3","maxBitrate":333333}]""", Json(consumer)["encodings"]);
    }

    [Fact]
    public void An_endpoint_without_rtx_gets_no_rtx_codec_nor_rtx_ssrc_but_keeps_nack()
    {
        var remote = MainRemote with { Codecs = MainRemote.Codecs!.Where(c => c.MimeType != "video/rtx").ToList() };
        var consumer = RtpParametersNegotiation.GetConsumerParameters(MainConsumable, remote, ssrc: 111_111_111);
        Assert.Equal(["video/H264"], consumer.Codecs.Select(c => c.MimeType));
        Assert.Equal(["nack:", "nack:pli", "foo:FOO"], consumer.Codecs[0].RtcpFeedback!.Select(f => $"{f.Type}:{f.Parameter}"));
        Assert.Null(consumer.Encodings![0].Rtx);
    }

    [Fact]
    public void Rtx_matches_by_mime_type_and_clock_rate_whatever_the_endpoints_apt()
    {
        var consumer = RtpParametersNegotiation.GetConsumerParameters(Vp8Consumable(), Caps(VideoCaps("[]").Replace("\"apt\":96", "\"apt\":33", StringComparison.Ordinal)), ssrc: 111_111_111);
        JsonEqual("""{"mimeType":"video/rtx","payloadType":102,"clockRate":90000,"parameters":{"apt":101},"rtcpFeedback":[]}""", Json(consumer)["codecs"]![1]);
        JsonEqual("""{"ssrc":111111111,"rtx":{"ssrc":111111112}}""", Json(consumer)["encodings"]![0]);
    }

    [Fact]
    public void Rtx_of_a_media_codec_the_endpoint_lacks_is_removed()
    {
        var producer = Params("""
            {"codecs":[
               {"mimeType":"video/VP8","payloadType":96,"clockRate":90000},{"mimeType":"video/rtx","payloadType":97,"clockRate":90000,"parameters":{"apt":96}},
               {"mimeType":"video/VP9","payloadType":98,"clockRate":90000},{"mimeType":"video/rtx","payloadType":99,"clockRate":90000,"parameters":{"apt":98}}
             ],
             "encodings":[{"ssrc":1}]}
            """);
        var consumable = Produce(MediaKind.Video, producer, Vp8Vp9Router).Consumable;
        var remote = Caps("""
            {"codecs":[
               {"kind":"video","mimeType":"video/VP9","preferredPayloadType":98,"clockRate":90000,"rtcpFeedback":[{"type":"nack"}]},
               {"kind":"video","mimeType":"video/rtx","preferredPayloadType":99,"clockRate":90000,"parameters":{"apt":98}}
             ]}
            """);
        var consumer = RtpParametersNegotiation.GetConsumerParameters(consumable, remote);
        JsonEqual("""
            [
              {"mimeType":"video/VP9","payloadType":103,"clockRate":90000,"parameters":{},"rtcpFeedback":[{"type":"nack","parameter":""}]},
              {"mimeType":"video/rtx","payloadType":104,"clockRate":90000,"parameters":{"apt":103},"rtcpFeedback":[]}
            ]
            """, Json(consumer)["codecs"]);
    }

    [Fact]
    public void Feedback_comes_from_the_first_endpoint_codec_that_matches_and_parameters_stay_the_producers()
    {
        var remote = Caps("""
            {"codecs":[
               {"kind":"video","mimeType":"video/H264","preferredPayloadType":96,"clockRate":90000,
                "parameters":{"packetization-mode":0,"profile-level-id":"4d0032"},"rtcpFeedback":[{"type":"ccm","parameter":"fir"}]},
               {"kind":"video","mimeType":"video/H264","preferredPayloadType":98,"clockRate":90000,
                "parameters":{"packetization-mode":1,"profile-level-id":"4d001f","level-asymmetry-allowed":1},"rtcpFeedback":[{"type":"nack","parameter":"pli"}]},
               {"kind":"video","mimeType":"video/H264","preferredPayloadType":100,"clockRate":90000,
                "parameters":{"packetization-mode":1,"profile-level-id":"4d0032"},"rtcpFeedback":[{"type":"goog-remb"}]}
             ]}
            """);
        var consumer = RtpParametersNegotiation.GetConsumerParameters(MainConsumable, remote);
        JsonEqual($$"""
            [{"mimeType":"video/H264","payloadType":101,"clockRate":90000,"parameters":{{MainH264Parameters}},"rtcpFeedback":[{"type":"nack","parameter":"pli"}]}]
            """, Json(consumer)["codecs"]);
    }

    [Theory]
    [InlineData("""{"codecs":[{"kind":"audio","mimeType":"audio/ISAC","preferredPayloadType":103,"clockRate":32000}]}""")]
    [InlineData("""{"codecs":[]}""")]
    [InlineData("""{}""")]
    [InlineData("""{"codecs":[{"kind":"video","mimeType":"video/rtx","preferredPayloadType":102,"clockRate":90000,"parameters":{"apt":101}}]}""")]
    [InlineData("""{"codecs":[{"kind":"video","mimeType":"video/H264","preferredPayloadType":101,"clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"42e01f"}}]}""")]
    public void No_compatible_media_codec_is_an_UnsupportedError(string caps)
    {
        var error = Assert.Throws<UnsupportedException>(() => RtpParametersNegotiation.GetConsumerParameters(MainConsumable, Caps(caps)));
        Assert.Equal("no compatible media codecs", error.Message);
    }

    [Theory]
    [InlineData("""{"codecs":[{"kind":"video","mimeType":"h264","preferredPayloadType":101,"clockRate":90000}]}""")]
    [InlineData("""{"codecs":[{"kind":"video","mimeType":"","preferredPayloadType":101,"clockRate":90000}]}""")]
    [InlineData("""{"codecs":[{"kind":"video","mimeType":"video/rtx","preferredPayloadType":102,"clockRate":90000,"parameters":{"apt":"101"}}]}""")]
    [InlineData("""{"codecs":[{"kind":"video","mimeType":"video/VP8","preferredPayloadType":96,"clockRate":90000,"rtcpFeedback":[{"type":""}]}]}""")]
    public void Malformed_endpoint_codecs_are_TypeErrors(string caps)
    {
        Assert.Throws<ArgumentException>(() => RtpParametersNegotiation.GetConsumerParameters(MainConsumable, Caps(caps)));
    }

    // ---- header extensions and bandwidth estimation ----

    [Fact]
    public void Extensions_need_the_same_uri_and_id_but_not_the_same_kind()
    {
        var remote = Caps(VideoCaps("[]", $"[{CapExt("audio", TimeOffset, 12)},{CapExt("video", VideoOrientation, 3)},{CapExt("video", PlayoutDelay, 14)}]"));
        var consumer = RtpParametersNegotiation.GetConsumerParameters(Vp8Consumable(), remote);
        JsonEqual(Exts((TimeOffset, 12), (PlayoutDelay, 14)), Json(consumer)["headerExtensions"]);
    }

    [Theory]
    // transport-cc negotiated: goog-remb goes.
    [InlineData("""[{"kind":"video","uri":"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time","preferredId":4},{"kind":"video","uri":"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01","preferredId":5}]""",
        "nack: nack:pli ccm:fir transport-cc:", "4 5")]
    [InlineData("""[{"kind":"video","uri":"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01","preferredId":5}]""",
        "nack: nack:pli ccm:fir transport-cc:", "5")]
    // only abs-send-time: transport-cc goes.
    [InlineData("""[{"kind":"video","uri":"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time","preferredId":4}]""",
        "nack: nack:pli ccm:fir goog-remb:", "4")]
    // neither (transport-cc under another id does not count): both go.
    [InlineData("""[{"kind":"video","uri":"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01","preferredId":3}]""",
        "nack: nack:pli ccm:fir", "")]
    [InlineData("[]", "nack: nack:pli ccm:fir", "")]
    public void Feedback_follows_the_negotiated_bandwidth_estimation(string extensions, string feedback, string ids)
    {
        var consumer = RtpParametersNegotiation.GetConsumerParameters(Vp8Consumable(), Caps(VideoCaps(VideoFeedbackJson, extensions)));
        Assert.Equal(feedback, string.Join(" ", consumer.Codecs[0].RtcpFeedback!.Select(f => $"{f.Type}:{f.Parameter}")));
        Assert.Empty(consumer.Codecs[1].RtcpFeedback!);
        Assert.Equal(ids, string.Join(" ", consumer.HeaderExtensions!.Select(e => e.Id)));
    }

    // ---- the single encoding ----

    [Theory]
    [InlineData("L1T3,L1T3,L1T3", "L3T3")]    // simulcast: streams become spatial layers
    [InlineData("L1T5,L1T5,L1T5,L1T5", "L4T5")]
    [InlineData("-,-,-", "L3T1")]
    [InlineData("-,L1T2,-", "L3T2")]          // the first encoding that has a mode gives the temporal layers
    [InlineData(",L1T2", "L2T2")]              // an empty mode counts as none
    [InlineData("foo,foo", "L2T1")]
    [InlineData("L3T3_KEY", "L3T3_KEY")]      // SVC: as the producer says
    [InlineData("S3T3", "S3T3")]
    [InlineData("L1T3", "L1T3")]
    [InlineData("-", null)]
    [InlineData("", null)]
    public void The_scalability_mode_exposes_the_producers_layers(string modes, string? expected)
    {
        var encodings = "[" + string.Join(",", modes.Split(',').Select((m, i) => m == "-" ? $$"""{"ssrc":{{i + 1}}}""" : $$"""{"ssrc":{{i + 1}},"scalabilityMode":"{{m}}"}""")) + "]";
        var consumer = RtpParametersNegotiation.GetConsumerParameters(Vp8Consumable(encodings), Caps(VideoCaps("[]")));
        Assert.Equal(expected, Assert.Single(consumer.Encodings!).ScalabilityMode);
    }

    [Theory]
    [InlineData("""[{"ssrc":1},{"ssrc":2}]""", null)]
    [InlineData("""[{"ssrc":1,"maxBitrate":0},{"ssrc":2,"maxBitrate":0}]""", null)]
    [InlineData("""[{"ssrc":1,"maxBitrate":100000},{"ssrc":2},{"ssrc":3,"maxBitrate":900000},{"ssrc":4,"maxBitrate":300000}]""", 900_000L)]
    [InlineData("""[{"ssrc":1,"maxBitrate":500000}]""", 500_000L)]
    public void The_encoding_gets_the_largest_max_bitrate(string encodings, long? expected)
    {
        var consumer = RtpParametersNegotiation.GetConsumerParameters(Vp8Consumable(encodings), Caps(VideoCaps("[]")));
        Assert.Equal(expected, Assert.Single(consumer.Encodings!).MaxBitrate);
    }

    [Fact]
    public void The_ssrc_is_random_in_mediasoups_range_and_rtx_follows_it()
    {
        for (var round = 0; round < 20; round++)
        {
            var encoding = Assert.Single(RtpParametersNegotiation.GetConsumerParameters(MainConsumable, MainRemote).Encodings!);
            InSsrcRange(encoding.Ssrc);
            Assert.Equal(encoding.Ssrc + 1, encoding.Rtx!.Ssrc);
        }
    }

    // ---- consume({pipe: true}) ----

    [Fact]
    public void A_pipe_consumer_negotiates_codecs_and_extensions_but_keeps_every_encoding()
    {
        var consumer = RtpParametersNegotiation.GetConsumerParameters(MainConsumable, MainRemote, pipe: true, ssrc: 400_000_000, rtxSsrc: 600_000_000);
        var expectedCodecs = Json(RtpParametersNegotiation.GetConsumerParameters(MainConsumable, MainRemote))["codecs"]!.ToJsonString();
        JsonEqual($$"""
            {
              "codecs":{{expectedCodecs}},
              "headerExtensions":{{Exts((Mid, 1), (VideoOrientation, 11), (TimeOffset, 12))}},
              "encodings":[
                {"ssrc":400000000,"rtx":{"ssrc":600000000},"maxBitrate":111111,"scalabilityMode":"L1T3"},
                {"ssrc":400000001,"rtx":{"ssrc":600000001},"maxBitrate":222222,"scalabilityMode":"L1T3"},
                {"ssrc":400000002,"rtx":{"ssrc":600000002},"maxBitrate":333333,"scalabilityMode":"L1T3"}
              ],
              "rtcp":{{Rtcp}}
            }
            """, Json(consumer));
        Assert.Equal(2, consumer.Codecs.Count);
    }

    [Fact]
    public void A_pipe_consumer_without_negotiated_rtx_has_no_rtx_ssrcs()
    {
        var consumer = RtpParametersNegotiation.GetConsumerParameters(MainConsumable, MainRemote, pipe: true, enableRtx: false);
        Assert.Equal(3, consumer.Encodings!.Count);
        Assert.All(consumer.Encodings, e => Assert.Null(e.Rtx));
        InSsrcRange(consumer.Encodings[0].Ssrc);
        Assert.Equal([consumer.Encodings[0].Ssrc, consumer.Encodings[0].Ssrc + 1, consumer.Encodings[0].Ssrc + 2], consumer.Encodings.Select(e => e.Ssrc));
    }

    // ---- getPipeConsumerRtpParameters ----

    [Fact]
    public void Pipe_consumer_parameters_with_rtx_keep_rtx_and_plain_nack()
    {
        var pipe = RtpParametersNegotiation.GetPipeConsumerParameters(MainConsumable, enableRtx: true, ssrcBase: 200_000_000, rtxSsrcBase: 300_000_000);
        JsonEqual($$"""
            [
              {"mimeType":"video/H264","payloadType":101,"clockRate":90000,"parameters":{{MainH264Parameters}},
               "rtcpFeedback":[{"type":"nack","parameter":""},{"type":"nack","parameter":"pli"},{"type":"ccm","parameter":"fir"}]},
              {"mimeType":"video/rtx","payloadType":102,"clockRate":90000,"parameters":{"apt":101},"rtcpFeedback":[]}
            ]
            """, Json(pipe)["codecs"]);
        JsonEqual("""
            [
              {"ssrc":200000000,"rtx":{"ssrc":300000000},"maxBitrate":111111,"scalabilityMode":"L1T3"},
              {"ssrc":200000001,"rtx":{"ssrc":300000001},"maxBitrate":222222,"scalabilityMode":"L1T3"},
              {"ssrc":200000002,"rtx":{"ssrc":300000002},"maxBitrate":333333,"scalabilityMode":"L1T3"}
            ]
            """, Json(pipe)["encodings"]);
        Assert.Null(pipe.Mid);
    }

    [Fact]
    public void Pipe_consumer_ssrcs_are_random_and_consecutive()
    {
        var pipe = RtpParametersNegotiation.GetPipeConsumerParameters(MainConsumable, enableRtx: true);
        var first = pipe.Encodings![0];
        InSsrcRange(first.Ssrc);
        InSsrcRange(first.Rtx!.Ssrc);
        Assert.Equal([first.Ssrc, first.Ssrc + 1, first.Ssrc + 2], pipe.Encodings.Select(e => e.Ssrc));
        Assert.Equal([first.Rtx.Ssrc, first.Rtx.Ssrc + 1, first.Rtx.Ssrc + 2], pipe.Encodings.Select(e => e.Rtx!.Ssrc));
    }

    // test-PipeTransport.ts: the pipe consumer of an audio producer.
    [Theory]
    [InlineData(false, "[]")]
    [InlineData(true, """[{"type":"nack","parameter":""}]""")]
    public void Pipe_consumer_of_audio_keeps_the_media_extensions_only(bool enableRtx, string feedback)
    {
        var router = Router("""[{"kind":"audio","mimeType":"audio/opus","clockRate":48000,"channels":2,"parameters":{"useinbandfec":1,"foo":"bar1"}}]""");
        var producer = Params("""
            {"codecs":[{"mimeType":"audio/opus","payloadType":111,"clockRate":48000,"channels":2,"parameters":{"useinbandfec":1,"foo":"bar1"}}],
             "encodings":[{"ssrc":11111111}],"rtcp":{"cname":"FOOBAR"}}
            """);
        var pipe = RtpParametersNegotiation.GetPipeConsumerParameters(Produce(MediaKind.Audio, producer, router).Consumable, enableRtx);
        JsonEqual($$"""
            [{"mimeType":"audio/opus","payloadType":100,"clockRate":48000,"channels":2,"parameters":{"useinbandfec":1,"foo":"bar1"},"rtcpFeedback":{{feedback}}}]
            """, Json(pipe)["codecs"]);
        JsonEqual(Exts((AudioLevel, 10), (AbsCaptureTime, 13), (PlayoutDelay, 14)), Json(pipe)["headerExtensions"]);
        // As mediasoup: enableRtx alone decides the RTX SSRC, even for audio, which has no RTX codec.
        Assert.Equal(enableRtx, Assert.Single(pipe.Encodings!).Rtx is not null);
    }

    // ---- whole chains, as mediasoup's Consumer and PipeTransport tests see them ----

    // test-Consumer.ts: router opus, VP8, H264; an opus producer and a 4-stream H264 producer; a device's capabilities.
    private static readonly RtpCapabilities ConsumerTestRouter = Router("""
        [
          {"kind":"audio","mimeType":"audio/opus","clockRate":48000,"channels":2,"parameters":{"foo":"bar"}},
          {"kind":"video","mimeType":"video/VP8","clockRate":90000},
          {"kind":"video","mimeType":"video/H264","clockRate":90000,
           "parameters":{"level-asymmetry-allowed":1,"packetization-mode":1,"profile-level-id":"4d0032","foo":"bar"}}
        ]
        """);

    private static readonly RtpCapabilities ConsumerTestDevice = Caps("""
        {
          "codecs":[
            {"kind":"audio","mimeType":"audio/opus","preferredPayloadType":100,"clockRate":48000,"channels":2,"rtcpFeedback":[{"type":"nack"}]},
            {"kind":"video","mimeType":"video/H264","preferredPayloadType":101,"clockRate":90000,
             "parameters":{"level-asymmetry-allowed":1,"packetization-mode":1,"profile-level-id":"4d0032"},
             "rtcpFeedback":[{"type":"nack"},{"type":"nack","parameter":"pli"},{"type":"ccm","parameter":"fir"},{"type":"goog-remb"}]},
            {"kind":"video","mimeType":"video/rtx","preferredPayloadType":102,"clockRate":90000,"parameters":{"apt":101}}
          ],
          "headerExtensions":[
            {"kind":"audio","uri":"urn:ietf:params:rtp-hdrext:sdes:mid","preferredId":1},
            {"kind":"video","uri":"urn:ietf:params:rtp-hdrext:sdes:mid","preferredId":1},
            {"kind":"video","uri":"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id","preferredId":2},
            {"kind":"audio","uri":"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time","preferredId":4},
            {"kind":"video","uri":"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time","preferredId":4},
            {"kind":"audio","uri":"urn:ietf:params:rtp-hdrext:ssrc-audio-level","preferredId":10},
            {"kind":"video","uri":"urn:3gpp:video-orientation","preferredId":11},
            {"kind":"video","uri":"urn:ietf:params:rtp-hdrext:toffset","preferredId":12}
          ]
        }
        """);

    [Theory]
    [InlineData(false, "[]")]                                    // consume() default for audio
    [InlineData(true, """[{"type":"nack","parameter":""}]""")]
    public void Audio_consumer_as_test_Consumer_sees_it(bool enableRtx, string feedback)
    {
        var producer = Params("""
            {"mid":"AUDIO",
             "codecs":[{"mimeType":"audio/opus","payloadType":111,"clockRate":48000,"channels":2,
                        "parameters":{"useinbandfec":1,"usedtx":1,"foo":222.222,"bar":"333"}}],
             "headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":10},{"uri":"urn:ietf:params:rtp-hdrext:ssrc-audio-level","id":12}],
             "encodings":[{"ssrc":11111111}],
             "rtcp":{"cname":"FOOBAR"}}
            """);
        var consumable = Produce(MediaKind.Audio, producer, ConsumerTestRouter).Consumable;
        Assert.True(RtpParametersNegotiation.CanConsume(consumable, ConsumerTestDevice));
        var consumer = RtpParametersNegotiation.GetConsumerParameters(consumable, ConsumerTestDevice, enableRtx: enableRtx, ssrc: 123_123_123);
        JsonEqual($$"""
            {
              "codecs":[{"mimeType":"audio/opus","payloadType":100,"clockRate":48000,"channels":2,
                         "parameters":{"useinbandfec":1,"usedtx":1,"foo":222.222,"bar":"333"},"rtcpFeedback":{{feedback}}}],
              "headerExtensions":{{Exts((Mid, 1), (AbsSendTime, 4), (AudioLevel, 10))}},
              "encodings":[{"ssrc":123123123}],
              "rtcp":{"cname":"FOOBAR","reducedSize":true}
            }
            """, Json(consumer));
    }

    [Fact]
    public void Video_consumer_as_test_Consumer_sees_it()
    {
        var producer = Params("""
            {"mid":"VIDEO",
             "codecs":[
               {"mimeType":"video/h264","payloadType":112,"clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"4d0032"},
                "rtcpFeedback":[{"type":"nack"},{"type":"nack","parameter":"pli"},{"type":"goog-remb"}]},
               {"mimeType":"video/rtx","payloadType":113,"clockRate":90000,"parameters":{"apt":112}}
             ],
             "encodings":[
               {"ssrc":22222222,"rtx":{"ssrc":22222223},"scalabilityMode":"L1T5"},
               {"ssrc":22222224,"rtx":{"ssrc":22222225},"scalabilityMode":"L1T5"},
               {"ssrc":22222226,"rtx":{"ssrc":22222227},"scalabilityMode":"L1T5"},
               {"ssrc":22222228,"rtx":{"ssrc":22222229},"scalabilityMode":"L1T5"}
             ],
             "rtcp":{"cname":"FOOBAR"}}
            """);
        var consumable = Produce(MediaKind.Video, producer, ConsumerTestRouter).Consumable;
        var consumer = RtpParametersNegotiation.GetConsumerParameters(consumable, ConsumerTestDevice, ssrc: 123_123_123);
        JsonEqual($$"""
            {
              "codecs":[
                {"mimeType":"video/H264","payloadType":103,"clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"4d0032"},
                 "rtcpFeedback":[{"type":"nack","parameter":""},{"type":"nack","parameter":"pli"},{"type":"ccm","parameter":"fir"},{"type":"goog-remb","parameter":""}]},
                {"mimeType":"video/rtx","payloadType":104,"clockRate":90000,"parameters":{"apt":103},"rtcpFeedback":[]}
              ],
              "headerExtensions":{{Exts((Mid, 1), (AbsSendTime, 4), (VideoOrientation, 11), (TimeOffset, 12))}},
              "encodings":[{"ssrc":123123123,"rtx":{"ssrc":123123124},"scalabilityMode":"L4T5"}],
              "rtcp":{"cname":"FOOBAR","reducedSize":true}
            }
            """, Json(consumer));
    }

    // test-PipeTransport.ts: a VP8 producer piped to a second router and consumed there.
    [Fact]
    public void A_piped_vp8_producer_consumed_in_the_other_router()
    {
        var router = Router("""
            [{"kind":"audio","mimeType":"audio/opus","clockRate":48000,"channels":2},{"kind":"video","mimeType":"video/VP8","clockRate":90000}]
            """);   // opus 100, VP8 101, rtx 102 in both routers
        var producer = Params("""
            {"mid":"VIDEO",
             "codecs":[{"mimeType":"video/VP8","payloadType":112,"clockRate":90000},{"mimeType":"video/rtx","payloadType":113,"clockRate":90000,"parameters":{"apt":112}}],
             "headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":10},{"uri":"urn:3gpp:video-orientation","id":13}],
             "encodings":[{"ssrc":22222222,"rtx":{"ssrc":22222223}},{"ssrc":22222224,"rtx":{"ssrc":22222225}},{"ssrc":22222226,"rtx":{"ssrc":22222227}}],
             "rtcp":{"cname":"FOOBAR"}}
            """);
        var pipeConsumer = RtpParametersNegotiation.GetPipeConsumerParameters(Produce(MediaKind.Video, producer, router).Consumable, enableRtx: false);
        JsonEqual("""[{"mimeType":"video/VP8","payloadType":101,"clockRate":90000,"parameters":{},"rtcpFeedback":[{"type":"nack","parameter":"pli"},{"type":"ccm","parameter":"fir"}]}]""",
            Json(pipeConsumer)["codecs"]);
        JsonEqual(Exts((FrameMarking07, 6), (FrameMarking, 7), (VideoOrientation, 11), (TimeOffset, 12), (AbsCaptureTime, 13), (PlayoutDelay, 14)),
            Json(pipeConsumer)["headerExtensions"]);

        // The pipe producer in the second router has the pipe consumer's parameters.
        var consumable2 = Produce(MediaKind.Video, pipeConsumer, router).Consumable;
        var device = Caps("""
            {"codecs":[
               {"kind":"video","mimeType":"video/VP8","preferredPayloadType":101,"clockRate":90000,
                "rtcpFeedback":[{"type":"nack"},{"type":"ccm","parameter":"fir"},{"type":"transport-cc"}]},
               {"kind":"video","mimeType":"video/rtx","preferredPayloadType":102,"clockRate":90000,"parameters":{"apt":101}}
             ],
             "headerExtensions":[
               {"kind":"video","uri":"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time","preferredId":4},
               {"kind":"video","uri":"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01","preferredId":5}
             ]}
            """);
        var consumer = RtpParametersNegotiation.GetConsumerParameters(consumable2, device, ssrc: 321_321_321);
        JsonEqual($$"""
            {
              "codecs":[
                {"mimeType":"video/VP8","payloadType":101,"clockRate":90000,"parameters":{},
                 "rtcpFeedback":[{"type":"nack","parameter":""},{"type":"ccm","parameter":"fir"},{"type":"transport-cc","parameter":""}]},
                {"mimeType":"video/rtx","payloadType":102,"clockRate":90000,"parameters":{"apt":101},"rtcpFeedback":[]}
              ],
              "headerExtensions":{{Exts((AbsSendTime, 4), (TransportCc, 5))}},
              "encodings":[{"ssrc":321321321,"rtx":{"ssrc":321321322},"scalabilityMode":"L3T1"}],
              "rtcp":{"cname":"FOOBAR","reducedSize":true}
            }
            """, Json(consumer));
    }
}
