using System.Text.Json;
using Microsoft.Playwright;

namespace Ferry.Server.Tests;

/// <summary>
/// Two headless Chromium pages chat through the demo page: stock mediasoup-client data producers and
/// consumers, Chromium's own SCTP stack on one side, Ferry's on the other.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserChatTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static async Task WaitAsync(IPage page, string condition, int timeoutMs = 30000) =>
        await page.WaitForFunctionAsync(condition, null, new PageWaitForFunctionOptions { Timeout = timeoutMs, PollingInterval = 100 });

    private static async Task<List<(string PeerId, string Text)>> ReceivedAsync(IPage page)
    {
        var json = await page.EvaluateAsync<string>("() => JSON.stringify(window.ferry.chat.filter(m => !m.mine))");
        return JsonDocument.Parse(json).RootElement.EnumerateArray()
            .Select(m => (m.GetProperty("peerId").GetString()!, m.GetProperty("text").GetString()!)).ToList();
    }

    [Fact]
    public async Task Every_chat_message_of_one_page_reaches_the_other_in_order()
    {
        var room = "chat-" + Guid.NewGuid().ToString("N")[..6];
        await using var pair = await BrowserPair.OpenAsync(fixture.Server.Url, room);
        var (pageA, pageB, contextA, contextB, consoleLines) = (pair.PageA, pair.PageB, pair.ContextA, pair.ContextB, pair.ConsoleLines);
        try
        {
            // Each page has its chat producer and a data consumer of the other's.
            await WaitAsync(pageA, "() => window.ferry.chatProducer !== null && window.ferry.chatProducer.readyState === 'open' && window.ferry.dataConsumers.size === 1");
            await WaitAsync(pageB, "() => window.ferry.chatProducer !== null && window.ferry.chatProducer.readyState === 'open' && window.ferry.dataConsumers.size === 1");
            await WaitAsync(pageB, "() => [...window.ferry.dataConsumers.values()][0].readyState === 'open'");
        }
        catch (TimeoutException)
        {
            var errors = await pageA.EvaluateAsync<string>("() => JSON.stringify(window.ferry.errors)") + await pageB.EvaluateAsync<string>("() => JSON.stringify(window.ferry.errors)");
            lock (consoleLines) throw new Xunit.Sdk.XunitException($"chat not set up; errors {errors}; console:\n{string.Join('\n', consoleLines)}");
        }
        var alice = await pageA.EvaluateAsync<string>("() => window.ferry.peerId");

        // 300 lines from Alice, a few longer than one SCTP packet (cut and reassembled on both legs).
        const int Total = 300;
        await pageA.EvaluateAsync(@"(total) => {
            for (let i = 0; i < total; i++) {
                const text = `line ${i} ` + (i % 50 === 7 ? 'x'.repeat(3000 + i) : '');
                window.ferry.sendChat(text);
            }
        }", Total);
        try
        {
            await WaitAsync(pageB, $"() => window.ferry.chat.filter(m => !m.mine).length >= {Total}");
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"Bob got {(await ReceivedAsync(pageB)).Count} of {Total}");
        }
        await Task.Delay(300);
        var received = await ReceivedAsync(pageB);
        Assert.Equal(Total, received.Count);
        for (var i = 0; i < Total; i++)
        {
            Assert.Equal(alice, received[i].PeerId);
            Assert.Equal($"line {i} " + (i % 50 == 7 ? new string('x', 3000 + i) : ""), received[i].Text);
        }
        // Shown in Bob's list too.
        Assert.Equal(Total, await pageB.EvaluateAsync<int>("() => document.querySelectorAll('#chatLines li:not(.mine)').length"));

        // The admin API lists each peer's chat producer and its data consumer of the other's, on connected SCTP.
        var detail = await fixture.GetJsonAsync($"/api/rooms/{room}");
        foreach (var peer in detail.GetProperty("peers").EnumerateArray())
        {
            Assert.Equal("chat", peer.GetProperty("dataProducers")[0].GetProperty("label").GetString());
            Assert.Equal(1, peer.GetProperty("dataConsumers").GetArrayLength());
            Assert.All(peer.GetProperty("transports").EnumerateArray(), t => Assert.Equal("connected", t.GetProperty("sctpState").GetString()));
        }

        // And back: Bob answers through the page's form.
        await pageB.FillAsync("#chatText", "hi Alice");
        await pageB.ClickAsync("#chatForm button");
        await WaitAsync(pageA, "() => window.ferry.chat.some(m => !m.mine && m.text === 'hi Alice')");

        // mediasoup-demo's own kind of chat channel too: unordered, one retransmission (FORWARD-TSN negotiated with Chromium).
        var before = (await ReceivedAsync(pageB)).Count;
        await pageA.EvaluateAsync(@"async () => {
            const transport = window.ferry.sendTransportForTests;
            const producer = await transport.produceData({ ordered: false, maxRetransmits: 1, label: 'chat' });
            await new Promise((resolve) => producer.readyState === 'open' ? resolve() : producer.on('open', resolve));
            window.ferry.lossyChat = producer;
        }");
        await WaitAsync(pageB, "() => window.ferry.dataConsumers.size === 2 && [...window.ferry.dataConsumers.values()].every(c => c.readyState === 'open')");
        await pageA.EvaluateAsync("() => { for (let i = 0; i < 50; i++) window.ferry.lossyChat.send(`unordered ${i}`); }");
        await WaitAsync(pageB, $"() => window.ferry.chat.filter(m => !m.mine).length >= {before + 50}");
        var unordered = (await ReceivedAsync(pageB)).Skip(before).Select(m => m.Text).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"unordered {i}").Order(), unordered);

        // Bob leaves: Alice's data consumer of his chat closes (dataConsumerClosed).
        await contextB.CloseAsync();
        await WaitAsync(pageA, "() => window.ferry.dataConsumers.size === 0");
        Assert.Equal("[]", await pageA.EvaluateAsync<string>("() => JSON.stringify(window.ferry.errors)"));
    }
}
