using System.Text.Json;
using Microsoft.Playwright;

namespace Ferry.Server.Tests;

/// <summary>The steps the tests of moves share: a call set up with chat, a chat line every 100 ms, and every line once and in order.</summary>
internal static class BrowserCallSteps
{
    /// <summary>An expression evaluated in the page (awaited there), as JSON.</summary>
    public static async Task<JsonElement> PageJsonAsync(IPage page, string expression) =>
        JsonDocument.Parse(await page.EvaluateAsync<string>($"async () => JSON.stringify(await ({expression}))")).RootElement.Clone();

    /// <summary>Waits until each page consumes the other's audio, video and chat and decodes video.</summary>
    public static async Task WaitForCallAsync(IEnumerable<IPage> pages)
    {
        foreach (var page in pages)
        {
            await page.WaitForFunctionAsync("() => window.ferry.consumers.size === 2 && window.ferry.dataConsumers.size === 1 && window.ferry.chatProducer?.readyState === 'open'",
                null, new PageWaitForFunctionOptions { Timeout = 30000 });
            await page.WaitForFunctionAsync("async () => (await window.ferry.inboundStats()).some(s => s.kind === 'video' && s.framesDecoded > 30)", null,
                new PageWaitForFunctionOptions { Timeout = 30000, PollingInterval = 200 });
        }
    }

    /// <summary>Each page sends a chat line every 100 ms until <see cref="StopChatAsync"/>.</summary>
    public static async Task StartChatAsync(IEnumerable<IPage> pages)
    {
        foreach (var page in pages)
            await page.EvaluateAsync("() => { let i = 0; window.chatTimer = setInterval(() => window.ferry.sendChat(`m ${i++}`), 100); }");
    }

    /// <summary>Stops the chat and lets the last lines arrive.</summary>
    public static async Task StopChatAsync(IEnumerable<IPage> pages)
    {
        foreach (var page in pages) await page.EvaluateAsync("() => clearInterval(window.chatTimer)");
        await Task.Delay(1000);
    }

    /// <summary>Every line each page sent reached the other once and in order, and there were at least <paramref name="minLines"/>.</summary>
    public static async Task AssertChatInOrderAsync(BrowserPair pair, int minLines)
    {
        foreach (var (from, to) in new[] { (pair.PageA, pair.PageB), (pair.PageB, pair.PageA) })
        {
            var sent = (await PageJsonAsync(from, "window.ferry.chat.filter(m => m.mine).map(m => m.text)")).EnumerateArray().Select(e => e.GetString()).ToList();
            var received = (await PageJsonAsync(to, "window.ferry.chat.filter(m => !m.mine).map(m => m.text)")).EnumerateArray().Select(e => e.GetString()).ToList();
            Assert.True(sent.Count >= minLines, $"only {sent.Count} lines sent");
            Assert.Equal(sent, received);
        }
    }
}
