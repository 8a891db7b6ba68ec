using System.Text.Json;
using Microsoft.Playwright;

namespace Ferry.Server.Tests;

/// <summary>
/// Two headless Chromium pages in a call over ICE-TCP only (the demo page's <c>?forceTcp=1</c>, as
/// mediasoup-demo's): Chrome connects actively to Ferry's passive TCP candidates, and video is decoded
/// and audio received on both sides, every second, with the selected pairs on TCP at both ends.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserTcpTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private sealed record Inbound(string Kind, long PacketsReceived, long FramesDecoded);

    private static async Task<List<Inbound>> InboundAsync(IPage page)
    {
        var json = await page.EvaluateAsync<string>("async () => JSON.stringify(await window.ferry.inboundStats())");
        return JsonDocument.Parse(json).RootElement.EnumerateArray().Select(s => new Inbound(
            s.GetProperty("kind").GetString()!,
            s.TryGetProperty("packetsReceived", out var p) ? p.GetInt64() : 0,
            s.TryGetProperty("framesDecoded", out var f) ? f.GetInt64() : 0)).ToList();
    }

    private static async Task<List<JsonElement>> SelectedPairsAsync(IPage page)
    {
        var json = await page.EvaluateAsync<string>("async () => JSON.stringify(await window.ferry.selectedPairs())");
        return JsonDocument.Parse(json).RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    /// <summary>Both ends' view of every transport, for a failure message.</summary>
    private async Task<string> DiagnosticsAsync(string room, params IPage[] pages)
    {
        var lines = new List<string>();
        foreach (var page in pages)
        {
            lines.Add("chrome pairs: " + await page.EvaluateAsync<string>("async () => JSON.stringify(await window.ferry.selectedPairs())"));
            lines.Add("chrome transports: " + await page.EvaluateAsync<string>("async () => JSON.stringify((await window.ferry.transportStats()).map(t => ({ d: t.direction, ice: t.iceState, dtls: t.dtlsState, pairChanges: t.selectedCandidatePairChanges })))"));
            lines.Add("chrome outbound: " + await page.EvaluateAsync<string>(
                "async () => { const r = []; for (const p of window.ferry.producers.values()) { const s = await p.getStats(); " +
                "for (const x of s.values()) if (x.type === 'outbound-rtp') r.push({ kind: x.kind, pli: x.pliCount, fir: x.firCount, keyFrames: x.keyFramesEncoded, frames: x.framesEncoded, packets: x.packetsSent }); } " +
                "return JSON.stringify(r); }"));
        }
        foreach (var peer in fixture.Server.Rooms.Find(room)?.Peers ?? [])
        {
            foreach (var t in peer.Transports.Values.Select(t => t.Transport).OfType<Ferry.Transports.WebRtcTransport>())
            {
                lines.Add($"ferry {peer.Id} {t.Id[..8]}: ice {t.IceState} dtls {t.DtlsState} tuple {t.IceSelectedTuple} tcp {t.TcpStats} unknownTuple {t.UnknownTupleDrops} srtpFailures {t.SrtpFailures}");
                foreach (var producer in await t.GetProducersAsync())
                    lines.Add($"  producer {producer.Kind}: " + string.Join(", ", (await producer.GetStatsAsync()).Select(x => $"packets {x.PacketCount} pli {x.PliCount} fir {x.FirCount}")));
                foreach (var consumer in await t.GetConsumersAsync())
                    lines.Add($"  consumer {consumer.Kind}: paused {consumer.Paused} producerPaused {consumer.ProducerPaused} " + string.Join(", ", (await consumer.GetStatsAsync()).Select(x => $"{x.Type} packets {x.PacketCount} pli {x.PliCount}")));
            }
        }
        return string.Join('\n', lines);
    }

    [Fact]
    public async Task Two_pages_with_force_tcp_see_and_hear_each_other_over_tcp()
    {
        var room = "tcp-" + Guid.NewGuid().ToString("N")[..6];
        await using var browsers = await BrowserPair.OpenAsync(fixture.Server.Url, room, "&forceTcp=1");
        var (pageA, pageB, contextA, contextB, consoleLines) = (browsers.PageA, browsers.PageB, browsers.ContextA, browsers.ContextB, browsers.ConsoleLines);
        try
        {
            foreach (var page in new[] { pageA, pageB })
                await page.WaitForFunctionAsync("() => window.ferry.consumers.size === 2", null, new PageWaitForFunctionOptions { Timeout = 30000, PollingInterval = 100 });
        }
        catch (TimeoutException)
        {
            var errors = await pageA.EvaluateAsync<string>("() => JSON.stringify(window.ferry.errors)") + await pageB.EvaluateAsync<string>("() => JSON.stringify(window.ferry.errors)");
            lock (consoleLines) throw new Xunit.Sdk.XunitException($"consumers not created; errors {errors}; console:\n{string.Join('\n', consoleLines)}");
        }

        // Ten seconds of media; from the third second on, decoding and audio must grow every second.
        var previous = new Dictionary<IPage, (long Frames, long Audio)> { [pageA] = (0, 0), [pageB] = (0, 0) };
        var log = new List<string>();
        for (var second = 0; second < 10; second++)
        {
            await Task.Delay(1000);
            foreach (var page in new[] { pageA, pageB })
            {
                var stats = await InboundAsync(page);
                var video = stats.SingleOrDefault(s => s.Kind == "video") ?? new Inbound("video", 0, 0);
                var audio = stats.SingleOrDefault(s => s.Kind == "audio") ?? new Inbound("audio", 0, 0);
                log.Add($"{second} {(page == pageA ? "A" : "B")}: frames {video.FramesDecoded} (video packets {video.PacketsReceived}), audio packets {audio.PacketsReceived}");
                if (second >= 3 && (video.FramesDecoded <= previous[page].Frames || audio.PacketsReceived <= previous[page].Audio))
                    throw new Xunit.Sdk.XunitException($"second {second}: media stuck\n{string.Join('\n', log)}\n{await DiagnosticsAsync(room, pageA, pageB)}");
                previous[page] = (video.FramesDecoded, audio.PacketsReceived);
            }
        }
        Assert.True(previous[pageA].Frames > 50, $"A decoded only {previous[pageA].Frames} frames");
        Assert.True(previous[pageB].Frames > 50, $"B decoded only {previous[pageB].Frames} frames");

        // Chrome's view: each page's send and receive transports run on a TCP pair to Ferry's passive candidate.
        foreach (var page in new[] { pageA, pageB })
        {
            var pairs = await SelectedPairsAsync(page);
            var described = string.Join("; ", pairs.Select(p => p.GetRawText())) + "\n" + await DiagnosticsAsync(room, pageA, pageB);
            Assert.True(pairs.Count == 2, described);
            foreach (var pair in pairs)
            {
                Assert.True(pair.GetProperty("state").GetString() == "succeeded", described);
                Assert.True(pair.GetProperty("localProtocol").GetString() == "tcp", described);
                Assert.True(pair.GetProperty("remoteProtocol").GetString() == "tcp", described);
                Assert.True(pair.GetProperty("remoteTcpType").GetString() == "passive", described);
            }
        }

        // Ferry's view: every transport's selected tuple is TCP.
        var detail = await fixture.GetJsonAsync($"/api/rooms/{room}");
        var transports = detail.GetProperty("peers").EnumerateArray().SelectMany(p => p.GetProperty("transports").EnumerateArray()).ToList();
        Assert.Equal(4, transports.Count);
        foreach (var t in transports)
            Assert.True(t.TryGetProperty("iceSelectedTuple", out var tuple) && tuple.ValueKind == JsonValueKind.Object && tuple.GetProperty("protocol").GetString() == "tcp", t.GetRawText());
        await contextA.CloseAsync();
        await contextB.CloseAsync();
    }
}
