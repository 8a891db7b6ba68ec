using Ferry.Protocols.Ortc;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;

namespace Ferry.Tests.RtpObservers;

/// <summary>Audio producers on a DirectTransport that send ssrc-audio-level, and their packets.</summary>
internal static class ObserverFixtures
{
    public static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The id the producers use for ssrc-audio-level (the router's is 10: the producer maps it).</summary>
    public const int AudioLevelId = 1;

    /// <summary>An Opus producer sending ssrc-audio-level with id <see cref="AudioLevelId"/>.</summary>
    public static ProducerOptions OpusWithAudioLevel(uint ssrc, string mid) => new()
    {
        Kind = MediaKind.Audio,
        RtpParameters = new RtpParameters
        {
            Mid = mid,
            Codecs = [new RtpCodecParameters { MimeType = "audio/opus", PayloadType = 111, ClockRate = 48000, Channels = 2 }],
            HeaderExtensions =
            [
                new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.Mid, Id = 4 },
                new RtpHeaderExtensionParameters { Uri = RtpHeaderExtensionUris.SsrcAudioLevel, Id = AudioLevelId },
            ],
            Encodings = [new RtpEncodingParameters { Ssrc = ssrc }],
            Rtcp = new RtcpParameters { Cname = "observer-test" },
        },
    };

    /// <summary>An audio source: a producer and the sequence state of the packets it sends.</summary>
    public sealed class Source(Producer producer, uint ssrc)
    {
        private ushort _seq = 1;
        private uint _timestamp = 960;

        public Producer Producer { get; } = producer;

        /// <summary>One 20 ms Opus packet at <paramref name="dBov"/> (0 loudest, -127 silence).</summary>
        public byte[] Packet(int dBov, bool voice = true)
        {
            var buffer = new byte[200];
            var w = new RtpPacketWriter(buffer, 111, _seq++, _timestamp, ssrc);
            _timestamp += 960;
            var level = new byte[] { (byte)((voice ? 0x80 : 0) | (-dBov & 0x7F)) };
            w.AddExtension(AudioLevelId, level);
            var length = w.SetPayload(new byte[40]);
            return buffer[..length];
        }

        public void Send(int dBov) => Producer.Send(Packet(dBov));
    }

    public static async Task<Source> AudioSourceAsync(DirectTransport transport, uint ssrc, string mid) =>
        new(await transport.ProduceAsync(OpusWithAudioLevel(ssrc, mid)), ssrc);

    /// <summary>
    /// Sends packets so the loop handles all of them in one turn: the posts are made from the loop
    /// itself, so no timer of the loop can run between them and an interval never splits the batch.
    /// </summary>
    public static Task SendBatchAsync(Router router, params (Source Source, int[] Levels)[] batch) =>
        router.Loop.InvokeAsync(() =>
        {
            foreach (var (source, levels) in batch)
                foreach (var level in levels) source.Send(level);
        });

    public static int[] Repeat(int level, int count) => Enumerable.Repeat(level, count).ToArray();

    public static Task<bool> WaitUntilAsync(Func<bool> condition) => WebRtcTestClient.WaitUntilAsync(condition, WaitTimeout);
}
