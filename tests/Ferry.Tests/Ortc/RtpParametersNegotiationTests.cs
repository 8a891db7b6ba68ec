using Ferry.Ortc;
using Ferry.Protocols.Ortc;
using static Ferry.Tests.Ortc.OrtcTestData;

namespace Ferry.Tests.Ortc;

/// <summary>
/// Counterparts of mediasoup's test-ortc.ts for getProducerRtpParametersMapping,
/// getConsumableRtpParameters, canConsume, getConsumerRtpParameters and getPipeConsumerRtpParameters,
/// with the walk-through test first and the rules it relies on after.
/// </summary>
public class RtpParametersNegotiationTests
{
    // test-ortc.ts: opus, then H264 Main 5.0 in packetization mode 1 → opus 100, H264 101, rtx 102.
    internal static readonly RtpCapabilities MainRouter = Router("""
        [
          {"kind":"audio","mimeType":"audio/opus","clockRate":48000,"channels":2},
          {"kind":"video","mimeType":"video/H264","clockRate":90000,
           "parameters":{"level-asymmetry-allowed":1,"packetization-mode":1,"profile-level-id":"4d0032","bar":"lalala"}}
        ]
        """);

    // test-ortc.ts: H264 PT 111 + rtx 112, two SSRC streams with RTX and one RID stream, all L1T3.
    internal static readonly RtpParameters MainProducer = Params("""
        {
          "codecs":[
            {"mimeType":"video/H264","payloadType":111,"clockRate":90000,
             "parameters":{"foo":1234,"packetization-mode":1,"profile-level-id":"4d0032"},
             "rtcpFeedback":[{"type":"nack","parameter":""},{"type":"nack","parameter":"pli"},{"type":"goog-remb","parameter":""}]},
            {"mimeType":"video/rtx","payloadType":112,"clockRate":90000,"parameters":{"apt":111},"rtcpFeedback":[]}
          ],
          "headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":1},{"uri":"urn:3gpp:video-orientation","id":2}],
          "encodings":[
            {"ssrc":11111111,"rtx":{"ssrc":11111112},"maxBitrate":111111,"scalabilityMode":"L1T3"},
            {"ssrc":21111111,"rtx":{"ssrc":21111112},"maxBitrate":222222,"scalabilityMode":"L1T3"},
            {"rid":"high","maxBitrate":333333,"scalabilityMode":"L1T3"}
          ],
          "rtcp":{"cname":"qwerty1234"}
        }
        """);

    // test-ortc.ts: the consuming endpoint (H264 with its own feedback, rtx, mid/rid/audio-level/video-orientation/toffset).
    internal static readonly RtpCapabilities MainRemote = Caps("""
        {
          "codecs":[
            {"kind":"audio","mimeType":"audio/opus","preferredPayloadType":100,"clockRate":48000,"channels":2,"parameters":{},"rtcpFeedback":[]},
            {"kind":"video","mimeType":"video/H264","preferredPayloadType":101,"clockRate":90000,
             "parameters":{"packetization-mode":1,"profile-level-id":"4d0032","baz":"LOLOLO"},
             "rtcpFeedback":[{"type":"nack","parameter":""},{"type":"nack","parameter":"pli"},{"type":"foo","parameter":"FOO"}]},
            {"kind":"video","mimeType":"video/rtx","preferredPayloadType":102,"clockRate":90000,"parameters":{"apt":101},"rtcpFeedback":[]}
          ],
          "headerExtensions":[
            {"kind":"audio","uri":"urn:ietf:params:rtp-hdrext:sdes:mid","preferredId":1,"preferredEncrypt":false,"direction":"sendrecv"},
            {"kind":"video","uri":"urn:ietf:params:rtp-hdrext:sdes:mid","preferredId":1,"preferredEncrypt":false,"direction":"sendrecv"},
            {"kind":"video","uri":"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id","preferredId":2,"preferredEncrypt":false,"direction":"sendrecv"},
            {"kind":"audio","uri":"urn:ietf:params:rtp-hdrext:ssrc-audio-level","preferredId":8,"preferredEncrypt":false,"direction":"sendrecv"},
            {"kind":"video","uri":"urn:3gpp:video-orientation","preferredId":11,"preferredEncrypt":false,"direction":"sendrecv"},
            {"kind":"video","uri":"urn:ietf:params:rtp-hdrext:toffset","preferredId":12,"preferredEncrypt":false,"direction":"sendrecv"}
          ]
        }
        """);

    internal const string MainH264Parameters = """{"foo":1234,"packetization-mode":1,"profile-level-id":"4d0032"}""";
    internal const string Rtcp = """{"cname":"qwerty1234","reducedSize":true}""";

    [Fact]
    public void getProducerRtpParametersMapping_getConsumableRtpParameters_getConsumerRtpParameters_and_getPipeConsumerRtpParameters_succeed()
    {
        const uint mapped = 500_000_000;
        var (mapping, producer, consumable) = Produce(MediaKind.Video, MainProducer, MainRouter, mapped);

        Assert.Equal([new RtpMapping.CodecMapping(111, 101), new RtpMapping.CodecMapping(112, 102)], mapping.Codecs);
        Assert.Equal(
            [
                new RtpMapping.EncodingMapping(11111111, null, "L1T3", mapped),
                new RtpMapping.EncodingMapping(21111111, null, "L1T3", mapped + 1),
                new RtpMapping.EncodingMapping(null, "high", "L1T3", mapped + 2),
            ],
            mapping.Encodings);
        // Same profile and level as the router's, so the producer's profile-level-id stays.
        JsonEqual(MainH264Parameters, Json(producer)["codecs"]![0]!["parameters"]);

        JsonEqual($$"""
            {
              "codecs":[
                {"mimeType":"video/H264","payloadType":101,"clockRate":90000,"parameters":{{MainH264Parameters}},"rtcpFeedback":{{VideoFeedbackJson}}},
                {"mimeType":"video/rtx","payloadType":102,"clockRate":90000,"parameters":{"apt":101},"rtcpFeedback":[]}
              ],
              "headerExtensions":{{Exts((Mid, 1), (AbsSendTime, 4), (TransportCc, 5), (FrameMarking07, 6), (FrameMarking, 7),
                  (VideoOrientation, 11), (TimeOffset, 12), (AbsCaptureTime, 13), (PlayoutDelay, 14))}},
              "encodings":[
                {"ssrc":500000000,"maxBitrate":111111,"scalabilityMode":"L1T3"},
                {"ssrc":500000001,"maxBitrate":222222,"scalabilityMode":"L1T3"},
                {"ssrc":500000002,"maxBitrate":333333,"scalabilityMode":"L1T3"}
              ],
              "rtcp":{{Rtcp}}
            }
            """, Json(consumable));

        var consumer = RtpParametersNegotiation.GetConsumerParameters(consumable, MainRemote, pipe: false, enableRtx: true, ssrc: 123_456_789);
        JsonEqual($$"""
            {
              "codecs":[
                {"mimeType":"video/H264","payloadType":101,"clockRate":90000,"parameters":{{MainH264Parameters}},
                 "rtcpFeedback":[{"type":"nack","parameter":""},{"type":"nack","parameter":"pli"},{"type":"foo","parameter":"FOO"}]},
                {"mimeType":"video/rtx","payloadType":102,"clockRate":90000,"parameters":{"apt":101},"rtcpFeedback":[]}
              ],
              "headerExtensions":{{Exts((Mid, 1), (VideoOrientation, 11), (TimeOffset, 12))}},
              "encodings":[{"ssrc":123456789,"rtx":{"ssrc":123456790},"scalabilityMode":"L3T3","maxBitrate":333333}],
              "rtcp":{{Rtcp}}
            }
            """, Json(consumer));

        var pipe = RtpParametersNegotiation.GetPipeConsumerParameters(consumable, enableRtx: false, ssrcBase: 200_000_000, rtxSsrcBase: 300_000_000);
        JsonEqual($$"""
            {
              "codecs":[
                {"mimeType":"video/H264","payloadType":101,"clockRate":90000,"parameters":{{MainH264Parameters}},
                 "rtcpFeedback":[{"type":"nack","parameter":"pli"},{"type":"ccm","parameter":"fir"}]}
              ],
              "headerExtensions":{{Exts((FrameMarking07, 6), (FrameMarking, 7), (VideoOrientation, 11), (TimeOffset, 12), (AbsCaptureTime, 13), (PlayoutDelay, 14))}},
              "encodings":[
                {"ssrc":200000000,"maxBitrate":111111,"scalabilityMode":"L1T3"},
                {"ssrc":200000001,"maxBitrate":222222,"scalabilityMode":"L1T3"},
                {"ssrc":200000002,"maxBitrate":333333,"scalabilityMode":"L1T3"}
              ],
              "rtcp":{{Rtcp}}
            }
            """, Json(pipe));
    }

    [Fact]
    public void getProducerRtpParametersMapping_with_incompatible_params_throws_UnsupportedError()
    {
        var router = Router("""
            [
              {"kind":"audio","mimeType":"audio/opus","clockRate":48000,"channels":2},
              {"kind":"video","mimeType":"video/H264","clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"640032"}}
            ]
            """);
        var producer = Params("""
            {"codecs":[{"mimeType":"video/VP8","payloadType":120,"clockRate":90000,
                        "rtcpFeedback":[{"type":"nack","parameter":""},{"type":"nack","parameter":"fir"}]}],
             "headerExtensions":[],"encodings":[{"ssrc":11111111}],"rtcp":{"cname":"qwerty1234"}}
            """);
        var error = Assert.Throws<UnsupportedException>(() => RtpParametersNegotiation.GetProducerMapping(producer, router, out _));
        Assert.Equal("unsupported codec [mimeType:video/VP8, payloadType:120]", error.Message);
    }

    // ---- getProducerRtpParametersMapping ----

    internal static readonly RtpCapabilities Vp8Vp9Router = Router("""
        [
          {"kind":"audio","mimeType":"audio/opus","clockRate":48000,"channels":2},
          {"kind":"video","mimeType":"video/VP8","clockRate":90000},
          {"kind":"video","mimeType":"video/VP9","clockRate":90000}
        ]
        """);   // opus 100, VP8 101, rtx 102, VP9 103, rtx 104

    [Fact]
    public void Media_codecs_map_to_router_payload_types_first_then_rtx_by_apt()
    {
        var producer = Params("""
            {"codecs":[
               {"mimeType":"video/vp9","payloadType":98,"clockRate":90000},
               {"mimeType":"video/rtx","payloadType":99,"clockRate":90000,"parameters":{"apt":98}},
               {"mimeType":"video/VP8","payloadType":96,"clockRate":90000},
               {"mimeType":"video/rtx","payloadType":97,"clockRate":90000,"parameters":{"apt":96}}
             ],
             "encodings":[{"ssrc":1234}]}
            """);
        var mapping = RtpParametersNegotiation.GetProducerMapping(producer, Vp8Vp9Router, out _);
        Assert.Equal(
            [new RtpMapping.CodecMapping(98, 103), new RtpMapping.CodecMapping(96, 101), new RtpMapping.CodecMapping(99, 104), new RtpMapping.CodecMapping(97, 102)],
            mapping.Codecs);
    }

    [Fact]
    public void Mapped_ssrcs_are_consecutive_from_a_random_start_in_mediasoups_range()
    {
        for (var round = 0; round < 20; round++)
        {
            var mapping = RtpParametersNegotiation.GetProducerMapping(MainProducer, MainRouter, out _);
            Assert.Equal(3, mapping.Encodings.Count);
            InSsrcRange(mapping.Encodings[0].MappedSsrc);
            Assert.Equal(mapping.Encodings[0].MappedSsrc + 1, mapping.Encodings[1].MappedSsrc);
            Assert.Equal(mapping.Encodings[0].MappedSsrc + 2, mapping.Encodings[2].MappedSsrc);
        }
    }

    [Fact]
    public void Encoding_mappings_copy_ssrc_rid_and_scalability_mode_only_when_given()
    {
        var producer = Params("""
            {"codecs":[{"mimeType":"video/VP8","payloadType":96,"clockRate":90000}],
             "encodings":[
               {"rid":"r0","ssrc":0,"scalabilityMode":"","maxBitrate":100000},
               {"rid":"","ssrc":42,"scalabilityMode":"L1T2"},
               {}
             ]}
            """);
        var mapping = RtpParametersNegotiation.GetProducerMapping(producer, Vp8Vp9Router, out _, firstMappedSsrc: 7);
        Assert.Equal(
            [new RtpMapping.EncodingMapping(null, "r0", null, 7), new RtpMapping.EncodingMapping(42, null, "L1T2", 8), new RtpMapping.EncodingMapping(null, null, null, 9)],
            mapping.Encodings);
    }

    [Fact]
    public void The_first_router_codec_that_matches_strictly_is_taken()
    {
        // Two H264 router codecs differing in packetization mode: 100 (+rtx 101) and 102 (+rtx 103).
        var router = Router("""
            [
              {"kind":"video","mimeType":"video/H264","clockRate":90000,"parameters":{"packetization-mode":0,"profile-level-id":"42e01f"}},
              {"kind":"video","mimeType":"video/H264","clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"42e01f"}}
            ]
            """);
        var producer = Params("""
            {"codecs":[
               {"mimeType":"video/H264","payloadType":125,"clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"42e01f"}},
               {"mimeType":"video/rtx","payloadType":126,"clockRate":90000,"parameters":{"apt":125}}
             ],
             "encodings":[{"ssrc":1}]}
            """);
        var mapping = RtpParametersNegotiation.GetProducerMapping(producer, router, out _);
        Assert.Equal([new RtpMapping.CodecMapping(125, 102), new RtpMapping.CodecMapping(126, 103)], mapping.Codecs);
    }

    [Theory]
    // Router H264 is 42e01f (Constrained Baseline 3.1) with level-asymmetry-allowed=1 from the supported defaults.
    [InlineData("""{"packetization-mode":1,"profile-level-id":"42e034"}""", "42e01f")]                              // no asymmetry: the lower level
    [InlineData("""{"packetization-mode":1,"profile-level-id":"42e034","level-asymmetry-allowed":1}""", "42e034")]  // both allow it: the producer's
    [InlineData("""{"packetization-mode":1,"profile-level-id":"42e00a"}""", "42e00a")]                              // lower than the router's
    [InlineData("""{"packetization-mode":1,"profile-level-id":"42c01f"}""", "42e01f")]                              // same profile, canonical spelling
    [InlineData("""{"packetization-mode":1}""", "42e01f")]                                                          // absent means 42e01f, and is written
    public void H264_profile_level_id_becomes_the_answer_for_the_router_codec(string producerParameters, string expected)
    {
        var router = Router("""[{"kind":"video","mimeType":"video/H264","clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"42e01f"}}]""");
        var given = Params($$"""{"codecs":[{"mimeType":"video/H264","payloadType":125,"clockRate":90000,"parameters":{{producerParameters}}}],"encodings":[{"ssrc":1}]}""");
        var before = Json(given).ToJsonString();

        var (_, producer, consumable) = Produce(MediaKind.Video, given, router);

        Assert.Equal(expected, producer.Codecs[0].Parameters!["profile-level-id"].Text);
        Assert.Equal(expected, consumable.Codecs[0].Parameters!["profile-level-id"].Text);
        Assert.Equal(1, (int)consumable.Codecs[0].Parameters!["packetization-mode"].Number);
        Assert.Equal(before, Json(given).ToJsonString());   // the caller's parameters are not touched
    }

    [Fact]
    public void H264_without_profile_level_id_on_either_side_stays_without()
    {
        var router = Router("""[{"kind":"video","mimeType":"video/H264","clockRate":90000,"parameters":{"packetization-mode":1}}]""");
        var given = Params("""{"codecs":[{"mimeType":"video/H264","payloadType":125,"clockRate":90000,"parameters":{"packetization-mode":1}}],"encodings":[{"ssrc":1}]}""");
        var (_, producer, consumable) = Produce(MediaKind.Video, given, router);
        JsonEqual("""{"packetization-mode":1}""", Json(producer)["codecs"]![0]!["parameters"]);
        JsonEqual("""{"packetization-mode":1}""", Json(consumable)["codecs"]![0]!["parameters"]);
    }

    [Theory]
    [InlineData("""{"mimeType":"video/H264","payloadType":125,"clockRate":90000,"parameters":{"packetization-mode":0,"profile-level-id":"42e01f"}}""")]  // packetization mode
    [InlineData("""{"mimeType":"video/H264","payloadType":125,"clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"42001f"}}""")]  // Baseline, not Constrained Baseline
    [InlineData("""{"mimeType":"video/H264","payloadType":125,"clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"640032"}}""")]  // High
    [InlineData("""{"mimeType":"video/H264","payloadType":125,"clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"zzzzzz"}}""")]  // invalid
    [InlineData("""{"mimeType":"video/VP8","payloadType":96,"clockRate":48000}""")]                                                                       // clock rate
    [InlineData("""{"mimeType":"video/VP9","payloadType":98,"clockRate":90000,"parameters":{"profile-id":2}}""")]                                           // VP9 profile
    [InlineData("""{"mimeType":"audio/opus","payloadType":111,"clockRate":48000}""")]                                                                     // opus has 2 channels
    [InlineData("""{"mimeType":"audio/ISAC","payloadType":103,"clockRate":32000,"channels":1}""")]                                                        // not in the router
    [InlineData("""{"mimeType":"audio/multiopus","payloadType":112,"clockRate":48000,"channels":6,"parameters":{"num_streams":3,"coupled_streams":2}}""")] // streams differ
    public void Codecs_the_router_does_not_have_are_UnsupportedErrors(string codec)
    {
        var router = Router("""
            [
              {"kind":"audio","mimeType":"audio/opus","clockRate":48000,"channels":2},
              {"kind":"audio","mimeType":"audio/multiopus","clockRate":48000,"channels":6,"parameters":{"channel_mapping":"0,4,1,2,3,5","num_streams":4,"coupled_streams":2}},
              {"kind":"video","mimeType":"video/VP8","clockRate":90000},
              {"kind":"video","mimeType":"video/VP9","clockRate":90000},
              {"kind":"video","mimeType":"video/H264","clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"42e01f"}}
            ]
            """);
        var producer = Params($$"""{"codecs":[{{codec}}],"encodings":[{"ssrc":1}]}""");
        var error = Assert.Throws<UnsupportedException>(() => RtpParametersNegotiation.GetProducerMapping(producer, router, out _));
        Assert.StartsWith("unsupported codec [mimeType:", error.Message);
    }

    [Fact]
    public void Multiopus_with_the_routers_stream_counts_maps()
    {
        var router = Router("""
            [{"kind":"audio","mimeType":"audio/multiopus","clockRate":48000,"channels":6,
              "parameters":{"channel_mapping":"0,4,1,2,3,5","num_streams":4,"coupled_streams":2}}]
            """);
        var producer = Params("""
            {"codecs":[{"mimeType":"audio/multiopus","payloadType":112,"clockRate":48000,"channels":6,
                        "parameters":{"channel_mapping":"0,4,1,2,3,5","num_streams":4,"coupled_streams":2}}],
             "encodings":[{"ssrc":1}]}
            """);
        Assert.Equal([new RtpMapping.CodecMapping(112, 100)], RtpParametersNegotiation.GetProducerMapping(producer, router, out _).Codecs);
    }

    [Theory]
    [InlineData("""{"apt":100}""", "missing media codec found for RTX PT 97")]
    [InlineData("""{}""", "missing media codec found for RTX PT 97")]
    public void Rtx_without_its_media_codec_is_a_TypeError(string rtxParameters, string message)
    {
        var producer = Params($$"""
            {"codecs":[
               {"mimeType":"video/VP8","payloadType":96,"clockRate":90000},
               {"mimeType":"video/rtx","payloadType":97,"clockRate":90000,"parameters":{{rtxParameters}}}
             ],
             "encodings":[{"ssrc":1}]}
            """);
        var error = Assert.Throws<ArgumentException>(() => RtpParametersNegotiation.GetProducerMapping(producer, Vp8Vp9Router, out _));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Rtx_for_a_router_codec_without_rtx_is_an_UnsupportedError()
    {
        var router = Vp8Vp9Router with { Codecs = Vp8Vp9Router.Codecs!.Where(c => c.MimeType != "video/rtx").ToList() };
        var producer = Params("""
            {"codecs":[
               {"mimeType":"video/VP8","payloadType":96,"clockRate":90000},
               {"mimeType":"video/rtx","payloadType":97,"clockRate":90000,"parameters":{"apt":96}}
             ],
             "encodings":[{"ssrc":1}]}
            """);
        var error = Assert.Throws<UnsupportedException>(() => RtpParametersNegotiation.GetProducerMapping(producer, router, out _));
        Assert.Equal("no RTX codec for capability codec PT 101", error.Message);
    }

    // ---- getConsumableRtpParameters ----

    [Fact]
    public void Consumable_audio_has_the_routers_codec_the_producers_parameters_and_the_audio_extensions_mediasoup_sends()
    {
        var router = Router("""[{"kind":"audio","mimeType":"audio/opus","clockRate":48000,"channels":2,"parameters":{"foo":"bar"}}]""");
        var producer = Params("""
            {"mid":"AUDIO",
             "codecs":[{"mimeType":"audio/OPUS","payloadType":111,"clockRate":48000,"channels":2,
                        "parameters":{"useinbandfec":1,"usedtx":1,"foo":222.222,"bar":"333"},"rtcpFeedback":[]}],
             "headerExtensions":[{"uri":"urn:ietf:params:rtp-hdrext:sdes:mid","id":10},{"uri":"urn:ietf:params:rtp-hdrext:ssrc-audio-level","id":11}],
             "encodings":[{"ssrc":11111111,"dtx":true,"codecPayloadType":111}],
             "rtcp":{"cname":"audio-1","reducedSize":false}}
            """);
        var (_, _, consumable) = Produce(MediaKind.Audio, producer, router, 1000);
        // transport-cc is recvonly for audio: mediasoup never sends it to audio consumers.
        JsonEqual($$"""
            {
              "codecs":[
                {"mimeType":"audio/opus","payloadType":100,"clockRate":48000,"channels":2,
                 "parameters":{"useinbandfec":1,"usedtx":1,"foo":222.222,"bar":"333"},
                 "rtcpFeedback":[{"type":"nack","parameter":""},{"type":"transport-cc","parameter":""}]}
              ],
              "headerExtensions":{{Exts((Mid, 1), (AbsSendTime, 4), (AudioLevel, 10), (AbsCaptureTime, 13), (PlayoutDelay, 14))}},
              "encodings":[{"ssrc":1000,"dtx":true}],
              "rtcp":{"cname":"audio-1","reducedSize":true}
            }
            """, Json(consumable));
    }

    [Fact]
    public void Consumable_codecs_are_each_media_codec_followed_by_the_routers_rtx_for_it()
    {
        // RTX listed after both media codecs, and VP9 without RTX from the producer: the router's RTX follows each anyway.
        var producer = Params("""
            {"codecs":[
               {"mimeType":"video/vp8","payloadType":96,"clockRate":90000,"parameters":{"x":1}},
               {"mimeType":"video/VP9","payloadType":98,"clockRate":90000,"parameters":{"profile-id":0}},
               {"mimeType":"video/rtx","payloadType":97,"clockRate":90000,"parameters":{"apt":96}}
             ],
             "encodings":[{"ssrc":1}]}
            """);
        var (_, _, consumable) = Produce(MediaKind.Video, producer, Vp8Vp9Router, 1000);
        JsonEqual($$"""
            [
              {"mimeType":"video/VP8","payloadType":101,"clockRate":90000,"parameters":{"x":1},"rtcpFeedback":{{VideoFeedbackJson}}},
              {"mimeType":"video/rtx","payloadType":102,"clockRate":90000,"parameters":{"apt":101},"rtcpFeedback":[]},
              {"mimeType":"video/VP9","payloadType":103,"clockRate":90000,"parameters":{"profile-id":0},"rtcpFeedback":{{VideoFeedbackJson}}},
              {"mimeType":"video/rtx","payloadType":104,"clockRate":90000,"parameters":{"apt":103},"rtcpFeedback":[]}
            ]
            """, Json(consumable)["codecs"]);
    }

    [Fact]
    public void Consumable_encodings_drop_rid_rtx_and_codec_payload_type_and_keep_everything_else()
    {
        var producer = Params("""
            {"codecs":[{"mimeType":"video/VP8","payloadType":96,"clockRate":90000},
                       {"mimeType":"video/rtx","payloadType":97,"clockRate":90000,"parameters":{"apt":96}}],
             "encodings":[
               {"rid":"q","codecPayloadType":96,"rtx":{"ssrc":5},"scaleResolutionDownBy":4,"maxBitrate":150000,"maxFramerate":15,"active":true,"priority":"high"},
               {"ssrc":6,"rtx":{"ssrc":7},"dtx":false,"scalabilityMode":"L1T3","adaptivePtime":false,"networkPriority":"low"}
             ],
             "rtcp":{"cname":"c"}}
            """);
        var (_, _, consumable) = Produce(MediaKind.Video, producer, Vp8Vp9Router, 1000);
        JsonEqual("""
            [
              {"ssrc":1000,"scaleResolutionDownBy":4,"maxBitrate":150000,"maxFramerate":15,"active":true,"priority":"high"},
              {"ssrc":1001,"dtx":false,"scalabilityMode":"L1T3","adaptivePtime":false,"networkPriority":"low"}
            ]
            """, Json(consumable)["encodings"]);
        // Unknown fields are copied, not shared with the producer's encodings.
        Assert.NotSame(producer.Encodings![0].Extra, consumable.Encodings![0].Extra);
    }

    // ---- canConsume ----

    internal static RtpParameters MainConsumable => Produce(MediaKind.Video, MainProducer, MainRouter, 1000).Consumable;

    [Fact]
    public void canConsume_is_true_when_the_endpoint_supports_the_media_codec()
    {
        Assert.True(RtpParametersNegotiation.CanConsume(MainConsumable, MainRemote));
        // Mime types compare without case; level differences do not matter within a profile.
        Assert.True(RtpParametersNegotiation.CanConsume(MainConsumable, Caps("""
            {"codecs":[{"kind":"video","mimeType":"VIDEO/h264","preferredPayloadType":96,"clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"4d001f"}}]}
            """)));
    }

    [Theory]
    [InlineData("""{"codecs":[{"kind":"audio","mimeType":"audio/ISAC","preferredPayloadType":103,"clockRate":32000}]}""")]   // nothing in common
    [InlineData("""{"codecs":[]}""")]
    [InlineData("""{}""")]
    [InlineData("""{"codecs":[{"kind":"video","mimeType":"video/rtx","preferredPayloadType":102,"clockRate":90000,"parameters":{"apt":101}}]}""")]   // only RTX matches
    [InlineData("""{"codecs":[{"kind":"video","mimeType":"video/H264","preferredPayloadType":101,"clockRate":90000,"parameters":{"packetization-mode":0,"profile-level-id":"4d0032"}}]}""")]
    [InlineData("""{"codecs":[{"kind":"video","mimeType":"video/H264","preferredPayloadType":101,"clockRate":90000,"parameters":{"packetization-mode":1,"profile-level-id":"42e01f"}}]}""")]
    [InlineData("""{"codecs":[{"kind":"video","mimeType":"video/H264","preferredPayloadType":101,"clockRate":90000,"parameters":{"packetization-mode":1}}]}""")]   // default profile is Constrained Baseline
    [InlineData("""{"codecs":[{"kind":"video","mimeType":"chicken","preferredPayloadType":101,"clockRate":90000}]}""")]   // malformed: TypeError inside, false outside
    [InlineData("""{"codecs":[{"kind":"video","mimeType":"video/rtx","preferredPayloadType":102,"clockRate":90000,"parameters":{"apt":"101"}}]}""")]
    public void canConsume_is_false_without_a_compatible_media_codec(string caps)
    {
        Assert.False(RtpParametersNegotiation.CanConsume(MainConsumable, Caps(caps)));
    }

    [Fact]
    public void canConsume_compares_audio_channels_and_multiopus_stream_counts()
    {
        var router = Router("""
            [{"kind":"audio","mimeType":"audio/opus","clockRate":48000,"channels":2},
             {"kind":"audio","mimeType":"audio/multiopus","clockRate":48000,"channels":6,"parameters":{"channel_mapping":"0,4,1,2,3,5","num_streams":4,"coupled_streams":2}}]
            """);
        var opus = Produce(MediaKind.Audio, Params("""{"codecs":[{"mimeType":"audio/opus","payloadType":111,"clockRate":48000,"channels":2}],"encodings":[{"ssrc":1}]}"""), router).Consumable;
        var surround = Produce(MediaKind.Audio, Params("""
            {"codecs":[{"mimeType":"audio/multiopus","payloadType":112,"clockRate":48000,"channels":6,"parameters":{"num_streams":4,"coupled_streams":2}}],"encodings":[{"ssrc":1}]}
            """), router).Consumable;

        Assert.True(RtpParametersNegotiation.CanConsume(opus, Caps("""{"codecs":[{"kind":"audio","mimeType":"audio/opus","preferredPayloadType":100,"clockRate":48000,"channels":2}]}""")));
        Assert.False(RtpParametersNegotiation.CanConsume(opus, Caps("""{"codecs":[{"kind":"audio","mimeType":"audio/opus","preferredPayloadType":100,"clockRate":48000}]}""")));
        Assert.True(RtpParametersNegotiation.CanConsume(surround, Caps("""
            {"codecs":[{"kind":"audio","mimeType":"audio/multiopus","preferredPayloadType":100,"clockRate":48000,"channels":6,"parameters":{"num_streams":4,"coupled_streams":2}}]}
            """)));
        Assert.False(RtpParametersNegotiation.CanConsume(surround, Caps("""
            {"codecs":[{"kind":"audio","mimeType":"audio/multiopus","preferredPayloadType":100,"clockRate":48000,"channels":4,"parameters":{"num_streams":2,"coupled_streams":2}}]}
            """)));
        Assert.False(RtpParametersNegotiation.CanConsume(surround, Caps("""
            {"codecs":[{"kind":"audio","mimeType":"audio/multiopus","preferredPayloadType":100,"clockRate":48000,"channels":6,"parameters":{"num_streams":3,"coupled_streams":2}}]}
            """)));
    }
}
