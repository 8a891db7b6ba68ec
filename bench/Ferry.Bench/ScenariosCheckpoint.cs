using System.Diagnostics;
using System.Text.Json;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;

namespace Ferry.Bench;

/// <summary>
/// What failover's copies cost (issue 15): a router holding one WebRtcTransport with 1 VP8 producer and 10 consumers
/// (all having sent), copied with <see cref="Router.CheckpointAsync"/> and written as JSON
/// (<see cref="SnapshotJson.Serialize(RouterCheckpoint)"/>), as a standby's copy is made once a second or on a change.
/// The CPU time is the process's (the loop command, the hop to it and back, the JSON), per copy; as the machine's speed
/// varies, it is also given against System.Text.Json writing a plain record of the same JSON size in the same run.
/// </summary>
internal sealed partial class Scenarios
{
    /// <summary>A plain record, for the baseline: numbers and short strings, as most of a snapshot is.</summary>
    internal sealed record PlainItem(string Id, string Kind, int Sequence, long Count, uint Timestamp, bool Flag, int[] Values);

    public async Task CheckpointCostAsync()
    {
        const int Consumers = 10;
        const int Rounds = 2000;
        await using var worker = await Worker.CreateAsync().ConfigureAwait(false);
        var router = await worker.CreateRouterAsync(RouterOptions).ConfigureAwait(false);
        using var far = new WebRtcTestClient();
        progress.Status("checkpoint cost: connecting");
        var transport = await router.CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
        await transport.ConnectAsync(far.DtlsParameters).ConfigureAwait(false);
        await far.ConnectAsync(transport.IceParameters, transport.IceCandidates, transport.DtlsParameters, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        var producer = await transport.ProduceAsync(Vp8Producer(ProducerSsrc)).ConfigureAwait(false);
        for (var i = 0; i < Consumers; i++)
            await transport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = router.RtpCapabilities }).ConfigureAwait(false);
        // Every consumer sends (a copy of a stream that has sent carries its recent output): 50 packets, then quiet, so
        // that only the copies run while they are measured.
        var packet = new byte[1300];
        var payload = new byte[1000];
        payload[0] = 0x10;
        for (var n = 0; n < 50; n++)
        {
            var w = new RtpPacketWriter(packet, 96, (ushort)n, (uint)(n * 900), ProducerSsrc, marker: true);
            w.AddExtension(4, "0"u8);
            payload[1] = n == 0 ? (byte)0 : (byte)1;
            far.SendRtp(packet.AsSpan(0, w.SetPayload(payload)));
            Thread.Sleep(2);
        }
        await WaitForAsync(() => Task.FromResult(far.ReceivedRtp.Count >= Consumers * 50), TimeSpan.FromSeconds(10), "checkpoint cost: waiting for media").ConfigureAwait(false);

        progress.Status("checkpoint cost: measuring");
        var bytes = 0;
        for (var i = 0; i < 200; i++) bytes = SnapshotJson.Serialize(await router.CheckpointAsync().ConfigureAwait(false)).Length;
        var (checkpointCpu, checkpointWall) = await MeasureAsync(Rounds, async () => bytes = SnapshotJson.Serialize(await router.CheckpointAsync().ConfigureAwait(false)).Length).ConfigureAwait(false);

        // The baseline: a plain record serialised to the same number of bytes.
        var items = new List<PlainItem>();
        while (JsonSerializer.Serialize(items).Length < bytes)
            items.Add(new PlainItem(Guid.NewGuid().ToString(), items.Count % 2 == 0 ? "video" : "audio", items.Count, items.Count * 1000L, (uint)items.Count * 3000, items.Count % 3 == 0, [1, 2, 3, 4, 5, 6, 7, 8]));
        var plainBytes = JsonSerializer.Serialize(items).Length;
        for (var i = 0; i < 200; i++) JsonSerializer.Serialize(items);
        var (plainCpu, _) = await MeasureAsync(Rounds, () => { JsonSerializer.Serialize(items); return Task.CompletedTask; }).ConfigureAwait(false);

        progress.Line($"checkpoint of 1 transport (1 producer, {Consumers} consumers): {bytes} JSON bytes, {checkpointCpu:F1} µs CPU ({checkpointWall:F1} µs wall) per copy; " +
                      $"System.Text.Json on a plain record of {plainBytes} bytes: {plainCpu:F1} µs CPU; ratio {checkpointCpu / plainCpu:F2}; " +
                      $"at one copy a second: {checkpointCpu / 1e4:F4} % of a core and {bytes * 8 / 1000.0:F1} kbit/s per transport");
        await router.CloseAsync().ConfigureAwait(false);
    }

    /// <summary>Process CPU time and wall time per run of <paramref name="run"/>, in µs, over <paramref name="rounds"/> runs.</summary>
    private static async Task<(double CpuMicros, double WallMicros)> MeasureAsync(int rounds, Func<Task> run)
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < rounds; i++) await run().ConfigureAwait(false);
        var wall = Stopwatch.GetElapsedTime(started);
        process.Refresh();
        return ((process.TotalProcessorTime - cpu).TotalMicroseconds / rounds, wall.TotalMicroseconds / rounds);
    }
}
