using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Ferry.Server.Tests;

/// <summary>
/// Live mobility seen from real browsers: two Chromium pages in a call while the room's router (with
/// every transport of both peers) moves to another worker every two seconds through the admin API.
/// The browsers must not notice: no loss, no freeze, no audio concealment, no ICE or DTLS change.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserMoveTests(ServerFixture fixture, ITestOutputHelper output) : IClassFixture<ServerFixture>
{
    private sealed record Snapshot(long FramesDecoded, long VideoPacketsLost, long FreezeCount, long AudioPackets, long ConcealmentEvents, long AudioPacketsLost);

    private static async Task<Snapshot> SnapshotAsync(IPage page)
    {
        var json = await page.EvaluateAsync<string>("async () => JSON.stringify(await window.ferry.inboundStats())");
        var stats = JsonDocument.Parse(json).RootElement.EnumerateArray().ToList();
        var video = stats.Single(s => s.GetProperty("kind").GetString() == "video");
        var audio = stats.Single(s => s.GetProperty("kind").GetString() == "audio");
        static long Get(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetInt64() : 0;
        return new Snapshot(Get(video, "framesDecoded"), Get(video, "packetsLost"), Get(video, "freezeCount"),
            Get(audio, "packetsReceived"), Get(audio, "concealmentEvents"), Get(audio, "packetsLost"));
    }

    private static async Task<List<JsonElement>> TransportStatsAsync(IPage page)
    {
        var json = await page.EvaluateAsync<string>("async () => JSON.stringify(await window.ferry.transportStats())");
        return JsonDocument.Parse(json).RootElement.EnumerateArray().ToList();
    }

    [Fact]
    public Task A_call_goes_on_unnoticed_while_its_router_moves_between_workers_every_two_seconds() =>
        RunCallWithMovesAsync("router", async room =>
        {
            var router = (await fixture.GetJsonAsync($"/api/rooms/{room}")).GetProperty("routers")[0];
            var routerId = router.GetProperty("id").GetString()!;
            var current = router.GetProperty("workerId").GetString();
            var target = (await WorkerIdsAsync()).First(id => id != current);
            return [await PostMoveAsync($"/api/routers/{routerId}/move", target)];
        }, expectedTransportsPerMove: 4);

    [Fact]
    public Task A_call_goes_on_unnoticed_while_every_transport_moves_to_another_worker_every_two_seconds() =>
        RunCallWithMovesAsync("transports", async room =>
        {
            var workers = await WorkerIdsAsync();
            var reports = new List<JsonElement>();
            foreach (var peer in (await fixture.GetJsonAsync($"/api/rooms/{room}")).GetProperty("peers").EnumerateArray())
            {
                foreach (var transport in peer.GetProperty("transports").EnumerateArray())
                {
                    var current = transport.GetProperty("workerId").GetString();
                    var target = workers.First(id => id != current);
                    reports.Add(await PostMoveAsync($"/api/transports/{transport.GetProperty("id").GetString()}/move", target));
                }
            }
            return reports;
        }, expectedTransportsPerMove: null);

    private async Task<List<string>> WorkerIdsAsync() =>
        (await fixture.GetJsonAsync("/api/workers")).EnumerateArray().Select(w => w.GetProperty("id").GetString()!).ToList();

    private async Task<JsonElement> PostMoveAsync(string path, string workerId)
    {
        var response = await fixture.Http.PostAsJsonAsync($"{fixture.Server.Url}{path}", new { workerId });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private async Task RunCallWithMovesAsync(string name, Func<string, Task<List<JsonElement>>> moveEverything, int? expectedTransportsPerMove)
    {
        var room = $"moves-{name}-" + Guid.NewGuid().ToString("N")[..6];
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await BrowserCallTests.LaunchAsync(playwright);
        await using var contextA = await browser.NewContextAsync();
        await using var contextB = await browser.NewContextAsync();
        var pageA = await contextA.NewPageAsync();
        var pageB = await contextB.NewPageAsync();
        await pageA.GotoAsync($"{fixture.Server.Url}/?roomId={room}&displayName=A&autojoin=1");
        await pageB.GotoAsync($"{fixture.Server.Url}/?roomId={room}&displayName=B&autojoin=1");
        foreach (var page in new[] { pageA, pageB })
            await page.WaitForFunctionAsync("() => window.ferry.consumers.size === 2", null, new PageWaitForFunctionOptions { Timeout = 30000 });
        // Let decoding start and settle before the moves.
        foreach (var page in new[] { pageA, pageB })
            await page.WaitForFunctionAsync("async () => (await window.ferry.inboundStats()).some(s => s.kind === 'video' && s.framesDecoded > 30)", null,
                new PageWaitForFunctionOptions { Timeout = 30000, PollingInterval = 200 });
        await Task.Delay(1000);

        // A control period first: what this machine's browsers conceal without any move.
        var controlStart = new Dictionary<IPage, Snapshot> { [pageA] = await SnapshotAsync(pageA), [pageB] = await SnapshotAsync(pageB) };
        await Task.Delay(TimeSpan.FromSeconds(10));
        var before = new Dictionary<IPage, Snapshot> { [pageA] = await SnapshotAsync(pageA), [pageB] = await SnapshotAsync(pageB) };
        var pairChangesBefore = new Dictionary<IPage, int[]>
        {
            [pageA] = (await TransportStatsAsync(pageA)).Select(t => t.GetProperty("selectedCandidatePairChanges").GetInt32()).ToArray(),
            [pageB] = (await TransportStatsAsync(pageB)).Select(t => t.GetProperty("selectedCandidatePairChanges").GetInt32()).ToArray(),
        };
        var last = new Dictionary<IPage, Snapshot>(before);
        var moves = new List<JsonElement>();
        for (var second = 1; second <= 30; second++)
        {
            await Task.Delay(1000);
            if (second % 2 == 0 && Environment.GetEnvironmentVariable("FERRY_CONTROL_NO_MOVES") != "1")
            {
                moves.AddRange(await moveEverything(room));
            }
            foreach (var page in new[] { pageA, pageB })
            {
                var now = await SnapshotAsync(page);
                Assert.True(now.FramesDecoded > last[page].FramesDecoded, $"second {second}: framesDecoded stuck at {now.FramesDecoded}");
                Assert.True(now.AudioPackets > last[page].AudioPackets, $"second {second}: audio stuck at {now.AudioPackets}");
                last[page] = now;
            }
        }

        // FERRY_CONTROL_NO_MOVES=1 runs the same call without moves: the baseline for the figures below.
        var control = Environment.GetEnvironmentVariable("FERRY_CONTROL_NO_MOVES") == "1";
        Assert.Equal(control ? 0 : 15 * (expectedTransportsPerMove is null ? 4 : 1), moves.Count);
        Assert.All(moves, m => Assert.Equal(0, m.GetProperty("packetsDropped").GetInt64()));
        if (expectedTransportsPerMove is { } n) Assert.All(moves, m => Assert.Equal(n, m.GetProperty("transports").GetInt32()));
        else Assert.All(moves, m => Assert.NotEqual(m.GetProperty("fromWorkerId").GetString(), m.GetProperty("toWorkerId").GetString()));
        foreach (var page in new[] { pageA, pageB })
        {
            var end = last[page];
            Assert.True(end.VideoPacketsLost == 0, $"video packetsLost {end.VideoPacketsLost} (before the moves {before[page].VideoPacketsLost}); {end} vs {before[page]}");
            Assert.Equal(0, end.AudioPacketsLost);
            var handovers = string.Join(", ", moves.Select(m => m.GetProperty("handoverTime").GetString()));
            // Freezes: as for concealment below, judged against the same call's control period, because a
            // loaded 2-core machine running two Chromium instances freezes now and then with no move.
            var controlFreezes = before[page].FreezeCount - controlStart[page].FreezeCount;
            var moveFreezes = end.FreezeCount - before[page].FreezeCount;
            // Transport moves (60 in 30 s, each parking the loops involved for well under a millisecond
            // usually, milliseconds when a parked thread waits for a core) were measured at 0-2 freezes per
            // 30 s before the handover became a rendezvous and transport-cc took kernel receive timestamps;
            // 0 in most runs since. The allowance stays for this shared 2-core machine.
            output.WriteLine($"{name} page {(page == pageA ? "A" : "B")}: freezes {controlFreezes} in the 10 s control, {moveFreezes} in 30 s with moves; " +
                $"concealment events {before[page].ConcealmentEvents - controlStart[page].ConcealmentEvents} and {end.ConcealmentEvents - before[page].ConcealmentEvents}; handovers {handovers}");
            var allowedFreezes = 3 * controlFreezes + 1 + (expectedTransportsPerMove is null ? 2 : 0);
            Assert.True(moveFreezes <= allowedFreezes, $"freezes: {controlFreezes} in 10 s without moves, {moveFreezes} in 30 s with moves (allowed {allowedFreezes}); handovers {handovers}");
            // Chrome conceals a few audio frames now and then on this shared machine with no move at all
            // (the control period measures it), so moves must not conceal more than that noise allows:
            // per 10 s, at most the control's count plus one.
            var controlEvents = before[page].ConcealmentEvents - controlStart[page].ConcealmentEvents;
            var moveEvents = end.ConcealmentEvents - before[page].ConcealmentEvents;
            // Transport moves park the loops of both peers' media for a moment (milliseconds at worst when a
            // parked worker thread waits for a core on this 2-core machine), which Chrome's jitter buffer, tuned
            // tight on loopback, can conceal: measured 0-4 events per 30 s with 60 moves. The bound allows
            // that and fails on anything systematic (a concealment per move would be 60).
            var allowed = 3 * (controlEvents + 1) + (expectedTransportsPerMove is null ? 3 : 0);
            Assert.True(moveEvents <= allowed, $"concealment events: {controlEvents} in 10 s without moves, {moveEvents} in 30 s with moves (allowed {allowed}); handovers {handovers}");
            // No ICE restart, no new DTLS handshake, no change of path during the moves. (Chrome may switch
            // pairs once while connecting when the machine has a second interface; that happens before.)
            var transports = await TransportStatsAsync(page);
            Assert.All(transports, t => Assert.Equal("connected", t.GetProperty("dtlsState").GetString()));
            Assert.Equal(pairChangesBefore[page], transports.Select(t => t.GetProperty("selectedCandidatePairChanges").GetInt32()).ToArray());
        }
    }
}
