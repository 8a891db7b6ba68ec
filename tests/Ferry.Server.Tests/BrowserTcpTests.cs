using System.Text.Json;
using Microsoft.Playwright;

namespace Ferry.Server.Tests;

/// <summary>
/// Two headless Chromium pages in a call over ICE-TCP only (the demo page's <c>?forceTcp=1</c>, as
/// mediasoup-demo's): Chrome connects actively to Ferry's passive TCP candidates, and video is decoded
/// and audio received on both sides, every second, with the selected pairs on TCP at both ends.
/// </summary>
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

    [Fact]
    public async Task Two_pages_with_force_tcp_see_and_hear_each_other_over_tcp()
    {
        var room = "tcp-" + Guid.NewGuid().ToString("N")[..6];
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await BrowserCallTests.LaunchAsync(playwright);
        await using var contextA = await browser.NewContextAsync();
        await using var contextB = await browser.NewContextAsync();
        var pageA = await contextA.NewPageAsync();
        var pageB = await contextB.NewPageAsync();
        var consoleLines = new List<string>();
        pageA.Console += (_, m) => { lock (consoleLines) consoleLines.Add("A: " + m.Text); };
        pageB.Console += (_, m) => { lock (consoleLines) consoleLines.Add("B: " + m.Text); };
        await pageA.GotoAsync($"{fixture.Server.Url}/?roomId={room}&displayName=Alice&autojoin=1&forceTcp=1");
        await pageB.GotoAsync($"{fixture.Server.Url}/?roomId={room}&displayName=Bob&autojoin=1&forceTcp=1");
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
        for (var second = 0; second < 10; second++)
        {
            await Task.Delay(1000);
            foreach (var page in new[] { pageA, pageB })
            {
                var stats = await InboundAsync(page);
                var video = stats.SingleOrDefault(s => s.Kind == "video") ?? new Inbound("video", 0, 0);
                var audio = stats.SingleOrDefault(s => s.Kind == "audio") ?? new Inbound("audio", 0, 0);
                if (second >= 3)
                {
                    Assert.True(video.FramesDecoded > previous[page].Frames, $"second {second}: framesDecoded stuck at {video.FramesDecoded}");
                    Assert.True(audio.PacketsReceived > previous[page].Audio, $"second {second}: audio packetsReceived stuck at {audio.PacketsReceived}");
                }
                previous[page] = (video.FramesDecoded, audio.PacketsReceived);
            }
        }
        Assert.True(previous[pageA].Frames > 50, $"A decoded only {previous[pageA].Frames} frames");
        Assert.True(previous[pageB].Frames > 50, $"B decoded only {previous[pageB].Frames} frames");

        // Chrome's view: each page's send and receive transports run on a TCP pair to Ferry's passive candidate.
        foreach (var page in new[] { pageA, pageB })
        {
            var pairs = await SelectedPairsAsync(page);
            Assert.Equal(2, pairs.Count);
            Assert.All(pairs, pair =>
            {
                Assert.Equal("succeeded", pair.GetProperty("state").GetString());
                Assert.Equal("tcp", pair.GetProperty("localProtocol").GetString());
                Assert.Equal("tcp", pair.GetProperty("remoteProtocol").GetString());
                Assert.Equal("passive", pair.GetProperty("remoteTcpType").GetString());
            });
        }

        // Ferry's view: every transport's selected tuple is TCP.
        var detail = await fixture.GetJsonAsync($"/api/rooms/{room}");
        var transports = detail.GetProperty("peers").EnumerateArray().SelectMany(p => p.GetProperty("transports").EnumerateArray()).ToList();
        Assert.Equal(4, transports.Count);
        Assert.All(transports, t => Assert.Equal("tcp", t.GetProperty("iceSelectedTuple").GetProperty("protocol").GetString()));
        await contextA.CloseAsync();
        await contextB.CloseAsync();
    }
}
