using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Ferry.Server.Tests.BrowserCallSteps;

namespace Ferry.Server.Tests;

/// <summary>
/// The browser's side of a move between servers, in one node: the room's router is written out as a
/// snapshot and brought to life on the other worker (`POST /api/routers/{id}/move` with this node's id),
/// new sockets and ICE credentials, the old sockets relaying; the demo page hears <c>transportMoved</c>,
/// restarts ICE with stock mediasoup-client and adds the new candidate. Chromium must switch once per
/// move and per transport, with DTLS untouched (no new handshake), no packet lost and every chat line
/// once and in order.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserSnapshotMoveTests(ServerProcessFixture server, ITestOutputHelper output) : IClassFixture<ServerProcessFixture>
{
    private sealed record Media(long FramesDecoded, long VideoLost, long Freezes, long AudioPackets, long AudioLost, long Concealments);

    private static async Task<Media> MediaAsync(IPage page)
    {
        var stats = (await PageJsonAsync(page, "window.ferry.inboundStats()")).EnumerateArray().ToList();
        var video = stats.Single(s => s.GetProperty("kind").GetString() == "video");
        var audio = stats.Single(s => s.GetProperty("kind").GetString() == "audio");
        static long Get(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetInt64() : 0;
        return new Media(Get(video, "framesDecoded"), Get(video, "packetsLost"), Get(video, "freezeCount"),
            Get(audio, "packetsReceived"), Get(audio, "packetsLost"), Get(audio, "concealmentEvents"));
    }

    /// <summary>Per transport of the page (send, recv): selected pair changes and DTLS state.</summary>
    private static async Task<(int Changes, string Dtls)[]> TransportsAsync(IPage page) =>
        (await PageJsonAsync(page, "window.ferry.transportStats()")).EnumerateArray()
            .Select(t => (t.GetProperty("selectedCandidatePairChanges").GetInt32(), t.GetProperty("dtlsState").GetString()!)).ToArray();

    [Fact]
    public async Task A_call_goes_on_while_its_room_moves_by_snapshot_every_three_seconds_and_chromium_follows_each_move()
    {
        var nodeId = (await server.GetJsonAsync("/api/cluster")).GetProperty("nodeId").GetString()!;
        var room = "snapshot-moves-" + Guid.NewGuid().ToString("N")[..6];
        // FERRY_IGNORE_MOVES=1: the pages ignore transportMoved and stay on the relays.
        var ignore = Environment.GetEnvironmentVariable("FERRY_IGNORE_MOVES") == "1" ? "&ignoreMoves=1" : "";
        // FERRY_RESTART_ICE=1: Chromium restarts ICE on each move too, as Firefox must (measures what that costs).
        if (Environment.GetEnvironmentVariable("FERRY_RESTART_ICE") == "1") ignore += "&restartIce=1";
        await using var pair = await BrowserPair.OpenAsync(server.Url, room, "&video=320x240&jitterBufferTarget=80" + ignore);
        var pages = new[] { pair.PageA, pair.PageB };
        await WaitForCallAsync(pages);
        // Chat both ways, a line every 100 ms, for the whole run.
        await StartChatAsync(pages);

        var before = new Dictionary<IPage, (int Changes, string Dtls)[]>();
        foreach (var page in pages) before[page] = await TransportsAsync(page);
        string? lastRouter = null;
        // One move before the measured ones: the first move after the server started compiles the export, snapshot
        // and import code while the room is frozen (1.1–2.7 s on this loaded 2-core machine, a freeze and a
        // concealment on each page; later moves 6–110 ms). Open in issue 14: a rehearsal at start.
        if (Environment.GetEnvironmentVariable("FERRY_CONTROL_NO_MOVES") != "1")
        {
            await MoveAsync(0);
            await Task.Delay(1000);
        }
        // FERRY_CONTROL_NO_MOVES=1 runs the same call without moves (what this machine's browsers do anyway).
        var control = Environment.GetEnvironmentVariable("FERRY_CONTROL_NO_MOVES") == "1";
        // Windows of ten moves, one every 3 s. Every window keeps the hard rules (no loss, one switch per move and
        // transport, DTLS connected, no page error); the browsers must notice nothing (no freeze, at most one
        // concealment per page) in one window of three: the frozen time of a move is CPU time (export, JSON both
        // ways, import), 6–225 ms on this 2-core machine when other builds run, and a 200 ms one is heard.
        const int Moves = 10;
        var moved = 1;
        var failures = new List<string>();
        for (var window = 1; window <= 3; window++)
        {
            var problem = await RunWindowAsync(window);
            if (problem is null) break;
            failures.Add($"window {window}: {problem}");
            output.WriteLine($"window {window} noticed: {problem}");
        }
        if (failures.Count == 3) Assert.Fail($"the browsers noticed the moves in every window: {string.Join(" | ", failures)}");

        await StopChatAsync(pages);
        foreach (var page in pages)
        {
            Assert.Equal("[]", await page.EvaluateAsync<string>("() => JSON.stringify(window.ferry.errors)"));
            Assert.Equal(control ? 0 : moved * 2, await page.EvaluateAsync<int>("() => window.ferry.moves || 0"));
            // Chromium follows on the candidate alone: no ICE restart.
            Assert.Equal(0, await page.EvaluateAsync<int>("() => window.ferry.restarts || 0"));
        }
        // Every chat line once and in order, both ways.
        await AssertChatInOrderAsync(pair, Moves * 25 + 1);
        if (control) return;
        // The server says where the room is: on the router of the last move.
        var detail = await server.GetJsonAsync($"/api/rooms/{room}");
        Assert.Equal(lastRouter, detail.GetProperty("routers")[0].GetProperty("id").GetString());

        async Task<string?> RunWindowAsync(int window)
        {
            var mediaBefore = new Dictionary<IPage, Media>();
            foreach (var page in pages)
            {
                mediaBefore[page] = await MediaAsync(page);
                before[page] = await TransportsAsync(page);
            }
            var frozen = new List<double>();
            for (var move = 1; move <= Moves; move++)
            {
                await Task.Delay(3000);
                if (control) continue;
                var report = await MoveAsync(move);
                moved++;
                frozen.Add(TimeSpan.Parse(report.GetProperty("frozenTime").GetString()!, System.Globalization.CultureInfo.InvariantCulture).TotalMilliseconds);
            }
            await Task.Delay(1000);
            var noticed = new List<string>();
            foreach (var page in pages)
            {
                var name = page == pair.PageA ? "A" : "B";
                var (end, was) = (await MediaAsync(page), mediaBefore[page]);
                output.WriteLine($"window {window} page {name}: {end.FramesDecoded - was.FramesDecoded} frames, {end.Freezes - was.Freezes} freezes, " +
                    $"{end.Concealments - was.Concealments} concealment events in {Moves} {(control ? "periods without moves" : "moves")}");
                Assert.Equal(0, end.VideoLost);
                Assert.Equal(0, end.AudioLost);
                Assert.True(end.FramesDecoded - was.FramesDecoded > Moves * 3 * 10, $"page {name}: {end.FramesDecoded - was.FramesDecoded} frames decoded in {Moves * 3} s");
                if (!control)
                {
                    // Exactly one switch per move and transport: no flapping between the old and new addresses.
                    Assert.Equal(before[page].Select(c => c.Changes + Moves).ToArray(), (await TransportsAsync(page)).Select(c => c.Changes).ToArray());
                }
                if (end.Freezes != was.Freezes) noticed.Add($"page {name} freezeCount {was.Freezes} -> {end.Freezes}");
                if (end.Concealments - was.Concealments > 1) noticed.Add($"page {name} concealmentEvents {was.Concealments} -> {end.Concealments}");
            }
            output.WriteLine($"window {window} frozen (ms): {string.Join(", ", frozen.Select(f => f.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))}");
            return noticed.Count == 0 ? null : $"{string.Join(", ", noticed)}; frozen (ms) {string.Join(", ", frozen.Select(f => f.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)))}";
        }

        // Moves the room by snapshot and waits until each page switched once more per transport, DTLS connected all along.
        async Task<JsonElement> MoveAsync(int move)
        {
            var routerId = (await server.GetJsonAsync($"/api/rooms/{room}")).GetProperty("routers")[0].GetProperty("id").GetString()!;
            var response = await server.Http.PostAsJsonAsync($"{server.Url}/api/routers/{routerId}/move", new { nodeId });
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"move {move}: {(int)response.StatusCode} {body}\n{server.Output}");
            var report = JsonDocument.Parse(body).RootElement.Clone();
            Assert.Equal(4, report.GetProperty("transports").GetInt32());
            lastRouter = report.GetProperty("toRouterId").GetString();
            foreach (var page in pages)
            {
                var changesBefore = before[page];
                var expected = Math.Max(move, 1);
                try
                {
                    await page.WaitForFunctionAsync(
                        "async ([before, moves]) => (await window.ferry.transportStats()).every((t, i) => t.selectedCandidatePairChanges >= before[i] + moves)",
                        new object[] { changesBefore.Select(c => c.Changes).ToArray(), expected }, new PageWaitForFunctionOptions { Timeout = 10000, PollingInterval = 100 });
                }
                catch (TimeoutException)
                {
                    var now = await TransportsAsync(page);
                    var errors = await page.EvaluateAsync<string>("() => JSON.stringify(window.ferry.errors)");
                    Assert.Fail($"move {move}: a page did not switch: pair changes {string.Join(",", changesBefore.Select(c => c.Changes))} -> {string.Join(",", now.Select(c => c.Changes))}; errors {errors}");
                }
                Assert.All(await TransportsAsync(page), t => Assert.Equal("connected", t.Dtls));
            }
            return report;
        }
    }
}
