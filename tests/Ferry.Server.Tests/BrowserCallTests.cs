using System.Net;
using System.Text.Json;
using Microsoft.Playwright;

namespace Ferry.Server.Tests;

/// <summary>
/// Two real headless Chromium pages in a call through the demo page (stock mediasoup-client, fake
/// camera and microphone): media flows both ways for ten seconds, then one leaves.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserCallTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    internal static readonly string[] ChromiumArgs =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        "--allow-loopback-in-peer-connection",
    ];

    internal static Task<IBrowser> LaunchAsync(IPlaywright playwright) =>
        playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = "/usr/bin/chromium", Headless = true, Args = ChromiumArgs });

    private sealed record Inbound(string Kind, long PacketsReceived, long FramesDecoded, long PacketsLost);

    private static async Task<List<Inbound>> InboundAsync(IPage page)
    {
        var json = await page.EvaluateAsync<JsonElement>("async () => JSON.stringify(await window.ferry.inboundStats())");
        return JsonDocument.Parse(json.GetString()!).RootElement.EnumerateArray().Select(s => new Inbound(
            s.GetProperty("kind").GetString()!,
            s.TryGetProperty("packetsReceived", out var p) ? p.GetInt64() : 0,
            s.TryGetProperty("framesDecoded", out var f) ? f.GetInt64() : 0,
            s.TryGetProperty("packetsLost", out var l) ? l.GetInt64() : 0)).ToList();
    }

    private static async Task WaitAsync(IPage page, string condition, int timeoutMs = 30000) =>
        await page.WaitForFunctionAsync(condition, null, new PageWaitForFunctionOptions { Timeout = timeoutMs, PollingInterval = 100 });

    [Fact]
    public async Task Two_pages_see_and_hear_each_other_and_a_leave_is_seen()
    {
        var room = "browser-" + Guid.NewGuid().ToString("N")[..6];
        await using var pair = await BrowserPair.OpenAsync(fixture.Server.Url, room);
        var (pageA, pageB, contextA, contextB, consoleLines) = (pair.PageA, pair.PageB, pair.ContextA, pair.ContextB, pair.ConsoleLines);
        try
        {
            await WaitAsync(pageA, "() => window.ferry.consumers.size === 2");
            await WaitAsync(pageB, "() => window.ferry.consumers.size === 2");
        }
        catch (TimeoutException)
        {
            var errors = await pageA.EvaluateAsync<string>("() => JSON.stringify(window.ferry.errors)") + await pageB.EvaluateAsync<string>("() => JSON.stringify(window.ferry.errors)");
            lock (consoleLines) throw new Xunit.Sdk.XunitException($"consumers not created; errors {errors}; console:\n{string.Join('\n', consoleLines)}");
        }

        // Ten seconds of media, checked each second on both pages.
        var previous = new Dictionary<IPage, (long Frames, long Audio)> { [pageA] = (0, 0), [pageB] = (0, 0) };
        for (var second = 0; second < 11; second++)
        {
            await Task.Delay(1000);
            foreach (var page in new[] { pageA, pageB })
            {
                var stats = await InboundAsync(page);
                // Before the first packet of a stream Chrome has no inbound-rtp entry for it yet.
                var video = stats.SingleOrDefault(s => s.Kind == "video") ?? new Inbound("video", 0, 0, 0);
                var audio = stats.SingleOrDefault(s => s.Kind == "audio") ?? new Inbound("audio", 0, 0, 0);
                if (second >= 3)
                {
                    // Decoding starts once the first key frame arrives; from then on it must keep going.
                    Assert.True(video.FramesDecoded > previous[page].Frames, $"second {second}: framesDecoded stuck at {video.FramesDecoded}");
                    Assert.True(audio.PacketsReceived > previous[page].Audio, $"second {second}: audio packetsReceived stuck at {audio.PacketsReceived}");
                }
                previous[page] = (video.FramesDecoded, audio.PacketsReceived);
            }
        }
        Assert.True(previous[pageA].Frames > 50, $"A decoded only {previous[pageA].Frames} frames");
        Assert.True(previous[pageB].Frames > 50, $"B decoded only {previous[pageB].Frames} frames");

        // Chrome's transport-cc feedback drives the server's estimate of what it can send each page: downlinkBwe arrives.
        foreach (var page in new[] { pageA, pageB })
        {
            await WaitAsync(page, "() => window.ferry.downlinkBwe && window.ferry.downlinkBwe.availableBitrate >= 30000 && window.ferry.downlinkBwe.desiredBitrate > 0", 15000);
        }

        // The fake microphone's beep is heard by the audio level observer: an activeSpeaker notification marks a tile.
        await WaitAsync(pageA, "() => document.querySelector('.tile.speaking') !== null", 15000);

        // The admin API shows the room with both peers, each transport on a worker.
        var detail = await fixture.GetJsonAsync($"/api/rooms/{room}");
        Assert.Equal(2, detail.GetProperty("peers").GetArrayLength());
        foreach (var peer in detail.GetProperty("peers").EnumerateArray())
        {
            Assert.Equal(2, peer.GetProperty("transports").GetArrayLength());
            Assert.Equal(2, peer.GetProperty("producers").GetArrayLength());
            Assert.Equal(2, peer.GetProperty("consumers").GetArrayLength());
        }

        // Bob leaves: Alice is told and his tile goes; the admin API shows one peer, then none.
        await contextB.CloseAsync();
        await WaitAsync(pageA, "() => window.ferry.peers.size === 0 && document.querySelectorAll('.tile').length === 1");
        await WaitAsync(pageA, "() => window.ferry.consumers.size === 0");
        Assert.Equal(1, (await fixture.GetJsonAsync($"/api/rooms/{room}")).GetProperty("peers").GetArrayLength());
        await contextA.CloseAsync();
        var gone = false;
        for (var i = 0; i < 100 && !gone; i++)
        {
            gone = (await fixture.Http.GetAsync($"{fixture.Server.Url}/api/rooms/{room}")).StatusCode == HttpStatusCode.NotFound;
            if (!gone) await Task.Delay(100);
        }
        Assert.True(gone, "the room was not removed after its last peer left");
    }
}
