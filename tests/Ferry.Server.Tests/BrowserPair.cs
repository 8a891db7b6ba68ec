using Microsoft.Playwright;

namespace Ferry.Server.Tests;

/// <summary>
/// Two headless Chromium pages (each in its own fresh context) that joined one room through the demo
/// page, with their console lines kept for failure messages: how the browser tests start a call.
/// </summary>
internal sealed class BrowserPair : IAsyncDisposable
{
    private BrowserPair(IPlaywright playwright, IBrowser browser, IBrowserContext contextA, IBrowserContext contextB, IPage pageA, IPage pageB)
    {
        Playwright = playwright;
        Browser = browser;
        ContextA = contextA;
        ContextB = contextB;
        PageA = pageA;
        PageB = pageB;
    }

    public IPlaywright Playwright { get; }
    public IBrowser Browser { get; }
    public IBrowserContext ContextA { get; }
    public IBrowserContext ContextB { get; }
    public IPage PageA { get; }
    public IPage PageB { get; }

    /// <summary>Both pages' console lines ("A: ..." / "B: ..."); lock it to read.</summary>
    public List<string> ConsoleLines { get; } = [];

    /// <summary>Opens Alice and Bob on the demo page of <paramref name="serverUrl"/> in <paramref name="room"/>, joining at once.</summary>
    /// <param name="extraQuery">More query parameters, starting with '&amp;' (e.g. "&amp;forceTcp=1").</param>
    /// <param name="extraQueryB">Bob's, when they differ from Alice's (null: the same).</param>
    /// <param name="serverUrlB">The server Bob's page comes from, when another (a node of a cluster; null: the same).</param>
    public static async Task<BrowserPair> OpenAsync(string serverUrl, string room, string extraQuery = "", string? extraQueryB = null, string? serverUrlB = null)
    {
        var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        var browser = await BrowserCallTests.LaunchAsync(playwright);
        var contextA = await browser.NewContextAsync();
        var contextB = await browser.NewContextAsync();
        var pair = new BrowserPair(playwright, browser, contextA, contextB, await contextA.NewPageAsync(), await contextB.NewPageAsync());
        pair.PageA.Console += (_, m) => { lock (pair.ConsoleLines) pair.ConsoleLines.Add("A: " + m.Text); };
        pair.PageB.Console += (_, m) => { lock (pair.ConsoleLines) pair.ConsoleLines.Add("B: " + m.Text); };
        await pair.PageA.GotoAsync($"{serverUrl}/?roomId={room}&displayName=Alice&autojoin=1{extraQuery}");
        await pair.PageB.GotoAsync($"{serverUrlB ?? serverUrl}/?roomId={room}&displayName=Bob&autojoin=1{extraQueryB ?? extraQuery}");
        return pair;
    }

    public async ValueTask DisposeAsync()
    {
        await ContextA.DisposeAsync();
        await ContextB.DisposeAsync();
        await Browser.DisposeAsync();
        Playwright.Dispose();
    }
}
