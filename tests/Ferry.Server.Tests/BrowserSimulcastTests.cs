using System.Text.Json;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Ferry.Server.Tests;

/// <summary>
/// Alice's demo page sends its camera as mediasoup-demo's app does by default (three VP8 simulcast streams,
/// ?simulcast=1) to Bob over an unconstrained loopback link: Bob must get the top stream and keep it at
/// the rate Alice encodes it, the server must count each stream at what Alice sends on it, and the loss the
/// server reports towards Bob must be the loss Bob's browser counts (issue 17: Chrome's padding, RTX resends
/// of packets the server already had, was counted and forwarded, and Bob stayed on the lowest stream; then
/// Alice's audio reached Bob with her browser's transport-wide sequence numbers, Bob's feedback paired them
/// with the server's video numbers, and the false delay it showed cut the estimate; then the allocation
/// took back a temporal layer it had just given because the padding that made room for it had stopped, and
/// Bob stayed on a lower temporal layer until a switching point happened to come while it was given).
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserSimulcastTests(ServerFixture fixture, ITestOutputHelper output) : IClassFixture<ServerFixture>
{
    private const string Video = "1280x720";

    private sealed record Outbound(string Rid, long MediaBytes, long Packets, double Fps, long Width, string Limitation, long FramesEncoded);

    /// <summary>A stream as the server counts it: media bytes, and the bytes of the RTX packets it dropped (padding that repaired nothing).</summary>
    private sealed record ServerStream(string Rid, long Bytes, long Bitrate, long PaddingBytes);

    private static async Task<JsonElement> EvalAsync(IPage page, string expression) =>
        JsonDocument.Parse((await page.EvaluateAsync<JsonElement>($"async () => JSON.stringify(await ({expression}))")).GetString()!).RootElement;

    private static long Long(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? (long)v.GetDouble() : 0;

    private static double Double(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;

    /// <summary>Alice's video streams as her browser sends them, by rid: media bytes (payload and headers, retransmissions excluded).</summary>
    private static async Task<Dictionary<string, Outbound>> OutboundAsync(IPage page)
    {
        var list = await EvalAsync(page, "window.ferry.outboundStats()");
        return list.EnumerateArray().Where(s => s.GetProperty("kind").GetString() == "video" && s.TryGetProperty("rid", out _)).ToDictionary(
            s => s.GetProperty("rid").GetString()!,
            s => new Outbound(s.GetProperty("rid").GetString()!,
                Long(s, "bytesSent") + Long(s, "headerBytesSent") - Long(s, "retransmittedBytesSent"),
                Long(s, "packetsSent") - Long(s, "retransmittedPacketsSent"), Double(s, "framesPerSecond"), Long(s, "frameWidth"),
                s.TryGetProperty("qualityLimitationReason", out var q) ? q.GetString() ?? "" : "", Long(s, "framesEncoded")));
    }

    private static async Task<Dictionary<string, ServerStream>> ProducerStatsAsync(IPage page, string producerId)
    {
        var list = await EvalAsync(page, $"window.ferry.request('getProducerStats', {{ producerId: '{producerId}' }})");
        return list.EnumerateArray().ToDictionary(s => s.GetProperty("rid").GetString()!, s => new ServerStream(s.GetProperty("rid").GetString()!, Long(s, "byteCount"), Long(s, "bitrate"), Long(s, "rtxBytesDiscarded")));
    }

    [Fact]
    public async Task A_receiver_gets_the_top_simulcast_stream_at_the_senders_rate_and_the_server_counts_what_is_sent()
    {
        var room = "simulcast-" + Guid.NewGuid().ToString("N")[..6];
        await using var pair = await BrowserPair.OpenAsync(fixture.Server.Url, room, $"&video={Video}&simulcast=1", $"&video={Video}");
        var (alice, bob) = (pair.PageA, pair.PageB);
        await bob.WaitForFunctionAsync("() => [...window.ferry.consumers.values()].some(c => c.kind === 'video')", null, new PageWaitForFunctionOptions { Timeout = 30000, PollingInterval = 100 });
        await alice.WaitForFunctionAsync("() => [...window.ferry.producers.values()].some(p => p.kind === 'video')", null, new PageWaitForFunctionOptions { Timeout = 30000, PollingInterval = 100 });
        var producerId = (await EvalAsync(alice, "[...window.ferry.producers.values()].find(p => p.kind === 'video').id")).GetString()!;
        var consumerId = (await EvalAsync(bob, "[...window.ferry.consumers.values()].find(c => c.kind === 'video').id")).GetString()!;
        var bobRecv = (await EvalAsync(bob, "window.ferry.transportIds()")).GetProperty("recv").GetString()!;
        var consumerAt = DateTime.UtcNow;

        // The top layer Alice sends (the widest stream with frames going out, every temporal layer: from one
        // sample to the next Bob receives its frames as fast as Alice encodes them) must reach Bob within 10 s.
        // Over an interval between samples, not at one: Chrome sends its 1280 stream for the first second or
        // two and stops it, and a window begun on it measured Bob's move to the 640 stream (a second without
        // frames while the server sees the stream has stopped) against the 640 stream's frames (89-90% in 2 of
        // 27 runs). Frames received, not Chrome's decoded framesPerSecond: see the window below.
        var deadline = consumerAt + TimeSpan.FromSeconds(10);
        Sample sample;
        Sample? previous = null;
        while (true)
        {
            sample = await SampleAsync(alice, bob, producerId, bobRecv);
            output.WriteLine(sample.ToString());
            if (previous is not null && AtTheTop(previous, sample)) break;
            previous = sample;
            Assert.True(DateTime.UtcNow < deadline, $"Bob did not reach the top layer within 10 s: {sample}");
            await Task.Delay(500);
        }
        var reachedAfter = DateTime.UtcNow - consumerAt;
        output.WriteLine($"top layer ({sample.TopWidth} wide, {sample.BobFps} of {sample.TopFps} fps) reached after {reachedAfter.TotalSeconds:F1} s");

        // Then it holds for 10 s at the rate Alice encodes it, and the server counts what she sends.
        var first = sample;
        var samples = new List<Sample>();
        for (var second = 0; second < 10; second++)
        {
            await Task.Delay(1000);
            sample = await SampleAsync(alice, bob, producerId, bobRecv);
            output.WriteLine(sample.ToString());
            samples.Add(sample);
        }
        foreach (var s in samples) Assert.True(s.BobWidth == s.TopWidth, $"Bob left the top stream: {s}");
        var last = samples[^1];
        // The frame rate over the whole window, not per one-second sample: on a 2-core machine running both
        // pages, one second's rate dips with the CPU at the sender and the receiver alike.
        // Frames Bob received whole, not frames his decoder got through: a frame of a temporal layer the server
        // drops never arrives, while a frame that arrived and was dropped for want of CPU (framesDropped; seen
        // with both pages on a loaded 2-core machine: 87-92% decoded while 93-100% arrived) says nothing of the server.
        var topRid = last.Sent.First(kv => kv.Value.Width == last.TopWidth).Key;
        var encoded = last.Sent[topRid].FramesEncoded - first.Sent[topRid].FramesEncoded;
        var received = last.BobFramesReceived - first.BobFramesReceived;
        output.WriteLine($"over the window: Alice encoded {encoded} frames of {topRid}, Bob received {received} and decoded {last.BobDecoded - first.BobDecoded} ({last.BobFramesDropped - first.BobFramesDropped} dropped by his browser)");
        Assert.True(encoded > 0 && received >= encoded * 0.8, $"Bob received {received} frames of the {encoded} Alice encoded on the top stream over 10 s");
        foreach (var (rid, sent) in last.Sent)
        {
            var sentBytes = sent.MediaBytes - first.Sent[rid].MediaBytes;
            var serverBytes = last.Server.GetValueOrDefault(rid)?.Bytes - first.Server.GetValueOrDefault(rid)?.Bytes ?? 0;
            var paddingBytes = last.Server.GetValueOrDefault(rid)?.PaddingBytes - first.Server.GetValueOrDefault(rid)?.PaddingBytes ?? 0;
            output.WriteLine($"{rid}: sent {sentBytes} B, server counted {serverBytes} B of media ({(sentBytes > 0 ? (double)serverBytes / sentBytes : 0):P1}) and {paddingBytes} B of padding");
            // Chrome counts its padding (RTX resends of old packets) in bytesSent: a stream it pads looks bigger
            // at the sender than its media. The server must never count more than was sent...
            Assert.True(serverBytes <= sentBytes * 1.1 + 2000, $"{rid}: the server counted {serverBytes} B of {sentBytes} B sent");
            // ...and on the stream Bob gets, what it counts as media and what it dropped as padding are what
            // was sent, within 10%. Chrome pads that stream too when its encoder falls short of the target (a
            // loaded machine: 103 of 988 packets of r1 in one run, 11.5% of its bytes), so the media alone can
            // be more than 10% under Chrome's count while the server counted every byte right.
            if (sent.Width == last.TopWidth) Assert.InRange(serverBytes + paddingBytes, sentBytes * 0.9, sentBytes * 1.1);
        }
        // The loss the server reports towards Bob is the loss Bob's browser counts.
        var bobLoss = last.BobReceived - first.BobReceived + last.BobLost - first.BobLost > 0
            ? (double)(last.BobLost - first.BobLost) / (last.BobReceived - first.BobReceived + last.BobLost - first.BobLost) : 0;
        var serverLoss = samples.Average(s => s.ServerLoss);
        output.WriteLine($"loss over the window: Bob {bobLoss:P2}, server (transport-cc, mean of samples) {serverLoss:P2}, max sample {samples.Max(s => s.ServerLoss):P2}");
        Assert.True(Math.Abs(serverLoss - bobLoss) <= 0.02, $"server reports {serverLoss:P2} loss towards Bob, who counts {bobLoss:P2}");
    }

    /// <summary>Bob was on Alice's top stream at both samples and received, between them, 80% of the frames she encoded on it.</summary>
    private static bool AtTheTop(Sample before, Sample now)
    {
        if (now.TopWidth < 640 || now.BobWidth != now.TopWidth || before.BobWidth != now.TopWidth) return false;
        var rid = now.Sent.First(kv => kv.Value.Width == now.TopWidth).Key;
        var encoded = now.Sent[rid].FramesEncoded - (before.Sent.GetValueOrDefault(rid)?.FramesEncoded ?? 0);
        return encoded > 0 && now.BobFramesReceived - before.BobFramesReceived >= encoded * 0.8;
    }

    private sealed record Sample(long BobWidth, double BobFps, long BobReceived, long BobLost, long TopWidth, double TopFps,
        Dictionary<string, Outbound> Sent, Dictionary<string, ServerStream> Server, double ServerLoss, long Available, long BobDecoded,
        long BobFramesReceived, long BobFramesDropped)
    {
        public override string ToString() =>
            $"bob {BobWidth}w {BobFps}fps rx {BobReceived} lost {BobLost} frames {BobFramesReceived} decoded {BobDecoded} dropped {BobFramesDropped} | top {TopWidth}w {TopFps}fps | server loss {ServerLoss:F3} avail {Available} | " +
            string.Join(" ", Sent.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}: {kv.Value.Width}w {kv.Value.Fps}fps ({kv.Value.Limitation}) sent {kv.Value.MediaBytes} B server {Server.GetValueOrDefault(kv.Key)?.Bytes} B (+{Server.GetValueOrDefault(kv.Key)?.PaddingBytes} B padding) {Server.GetValueOrDefault(kv.Key)?.Bitrate} bps"));
    }

    private static async Task<Sample> SampleAsync(IPage alice, IPage bob, string producerId, string bobRecv)
    {
        // Every read at once: what Alice sent is compared with what Bob got and what the server counted, and on
        // a loaded machine one read can take a good part of a second (read one after the other, the server's
        // count of r1 came out at 109% of Alice's in one run).
        var inboundRead = EvalAsync(bob, "window.ferry.inboundStats()");
        var sentRead = OutboundAsync(alice);
        var serverRead = ProducerStatsAsync(alice, producerId);
        var transportRead = EvalAsync(bob, $"window.ferry.request('getTransportStats', {{ transportId: '{bobRecv}' }})");
        await Task.WhenAll(inboundRead, sentRead, serverRead, transportRead);
        var inbound = (await inboundRead).EnumerateArray().FirstOrDefault(s => s.GetProperty("kind").GetString() == "video");
        var hasInbound = inbound.ValueKind == JsonValueKind.Object;
        var sent = await sentRead;
        var server = await serverRead;
        var transport = await transportRead;
        var t = transport.ValueKind == JsonValueKind.Array ? transport[0] : transport;
        var top = sent.Values.Where(o => o.Fps > 0).OrderByDescending(o => o.Width).FirstOrDefault();
        return new Sample(hasInbound ? Long(inbound, "frameWidth") : 0, hasInbound ? Double(inbound, "framesPerSecond") : 0,
            hasInbound ? Long(inbound, "packetsReceived") : 0, hasInbound ? Long(inbound, "packetsLost") : 0,
            top?.Width ?? 0, top?.Fps ?? 0, sent, server, Double(t, "rtpPacketLossSent"), Long(t, "availableOutgoingBitrate"),
            hasInbound ? Long(inbound, "framesDecoded") : 0, hasInbound ? Long(inbound, "framesReceived") : 0, hasInbound ? Long(inbound, "framesDropped") : 0);
    }
}
