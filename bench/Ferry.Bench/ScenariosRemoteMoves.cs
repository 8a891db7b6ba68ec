using System.Diagnostics;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Rtp;
using Ferry.Rtp;
using Ferry.Testing.Clients;
using Ferry.Transports;

namespace Ferry.Bench;

/// <summary>
/// Moves of a WebRtcTransport by the path between processes (snapshot as JSON, relay, ICE restart of the
/// far end) between routers on two workers: everything a move between processes does but the pipe of
/// stdin/stdout that carries the JSON. The far end (ICE, DTLS, SRTP on Ferry.Protocols) sends a VP8 stream
/// into the transport and receives it back from the transport's consumers.
/// </summary>
internal sealed partial class Scenarios
{
    public async Task RemoteMovesAsync(BenchResults results)
    {
        await using var a = await Worker.CreateAsync().ConfigureAwait(false);
        await using var b = await Worker.CreateAsync().ConfigureAwait(false);
        foreach (var (consumers, moves) in config.RemoteMoves)
        {
            var routers = new[] { await a.CreateRouterAsync(RouterOptions).ConfigureAwait(false), await b.CreateRouterAsync(RouterOptions).ConfigureAwait(false) };
            using var far = new WebRtcTestClient();
            try
            {
                progress.Status($"remote moves with {consumers} consumers: connecting");
                var transport = await routers[0].CreateWebRtcTransportAsync(Loopback).ConfigureAwait(false);
                await transport.ConnectAsync(far.DtlsParameters).ConfigureAwait(false);
                await far.ConnectAsync(transport.IceParameters, transport.IceCandidates, transport.DtlsParameters, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                var producer = await transport.ProduceAsync(Vp8Producer(ProducerSsrc)).ConfigureAwait(false);
                for (var i = 0; i < consumers; i++)
                    await transport.ConsumeAsync(new ConsumerOptions { ProducerId = producer.Id, RtpCapabilities = routers[0].RtpCapabilities }).ConfigureAwait(false);

                using var stop = new CancellationTokenSource();
                var sent = 0;
                var sending = Task.Factory.StartNew(() =>
                {
                    var packet = new byte[1300];
                    var payload = new byte[1000];
                    payload[0] = 0x10;
                    while (!stop.IsCancellationRequested)
                    {
                        var w = new RtpPacketWriter(packet, 96, (ushort)sent, (uint)(sent * 900), ProducerSsrc, marker: true);
                        w.AddExtension(4, "0"u8);
                        payload[1] = sent == 0 ? (byte)0 : (byte)1;
                        var length = w.SetPayload(payload);
                        far.SendRtp(packet.AsSpan(0, length));
                        sent++;
                        Thread.Sleep(5);
                    }
                }, TaskCreationOptions.LongRunning);
                await WaitForAsync(() => Task.FromResult(far.ReceivedRtp.Count >= consumers * 20), TimeSpan.FromSeconds(10), "remote moves: waiting for media").ConfigureAwait(false);

                var handovers = new List<double>();
                var gaps = new List<double>();
                var exports = new List<double>();
                var imports = new List<double>();
                var sizes = new List<int>();
                var current = transport;
                for (var i = 0; i < moves; i++)
                {
                    var target = routers[(i + 1) % 2];
                    var slot = await target.PrepareTransportImportAsync(new TransportImportOptions
                    {
                        ListenInfos = [new TransportListenInfo { Ip = "127.0.0.1" }], RelayGracePeriod = TimeSpan.FromMilliseconds(100),
                    }).ConfigureAwait(false);
                    var started = Stopwatch.GetTimestamp();
                    var move = await current.ExportForMoveAsync(new TransportExportOptions { TargetRelay = slot.RelayEndPoint, RelayGracePeriod = TimeSpan.FromMilliseconds(100) }).ConfigureAwait(false);
                    var json = SnapshotJson.Serialize(move.Snapshot);
                    exports.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    sizes.Add(json.Length);
                    var importStarted = Stopwatch.GetTimestamp();
                    var imported = await slot.ImportAsync(SnapshotJson.Deserialize(json)).ConfigureAwait(false);
                    imports.Add(Stopwatch.GetElapsedTime(importStarted).TotalMilliseconds);
                    await move.CommitAsync().ConfigureAwait(false);
                    far.MovePath(imported.IceParameters, imported.IceCandidates[0]);
                    await imported.Transport.FarEndPathMoved.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                    await move.Completed.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                    await WaitForAsync(() => Task.FromResult(imported.Transport.FirstRtpSentAfterImportTimestamp != 0), TimeSpan.FromSeconds(5), "remote moves: first packet").ConfigureAwait(false);
                    handovers.Add(Stopwatch.GetElapsedTime(move.FrozenAtTimestamp, imported.Transport.FirstRtpSentAfterImportTimestamp).TotalMilliseconds);
                    gaps.Add(LargestGap(far, move.FrozenAtTimestamp));
                    current = imported.Transport;
                    progress.Status($"remote moves with {consumers} consumers: {i + 1}/{moves}, handover {handovers[^1]:F2} ms, gap {gaps[^1]:F1} ms");
                }
                await stop.CancelAsync().ConfigureAwait(false);
                await sending.ConfigureAwait(false);
                await Task.Delay(300).ConfigureAwait(false);
                var received = far.ReceivedRtp.Count;
                var result = new RemoteMoveResult
                {
                    Consumers = consumers, Moves = moves,
                    HandoverP50Ms = Stats.Percentile(handovers, 50), HandoverP99Ms = Stats.Percentile(handovers, 99), HandoverMaxMs = handovers.Max(),
                    GapP50Ms = Stats.Percentile(gaps, 50), GapP99Ms = Stats.Percentile(gaps, 99),
                    ExportP50Ms = Stats.Percentile(exports, 50), ImportP50Ms = Stats.Percentile(imports, 50),
                    SnapshotBytes = sizes.Max(), PacketsSent = (long)sent * consumers, PacketsReceived = received,
                };
                results.RemoteMoves.Add(result);
                progress.Line($"remote moves with {consumers} consumers: handover p50 {result.HandoverP50Ms:F2} ms, p99 {result.HandoverP99Ms:F2} ms, receiver gap p50 {result.GapP50Ms:F1} ms, " +
                              $"p99 {result.GapP99Ms:F1} ms (packets every 5 ms), snapshot {result.SnapshotBytes} B, received {received}/{result.PacketsSent}");
            }
            finally
            {
                foreach (var router in routers) await router.CloseAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The largest time between two packets the far end received in the second after <paramref name="from"/>, and the gap across it.</summary>
    private static double LargestGap(WebRtcTestClient far, long from)
    {
        var times = far.ReceivedRtpAt.ToArray();
        var until = from + Stopwatch.Frequency;
        var largest = 0.0;
        for (var i = 1; i < times.Length; i++)
        {
            if (times[i] < from || times[i - 1] > until) continue;
            largest = Math.Max(largest, Stopwatch.GetElapsedTime(times[i - 1], times[i]).TotalMilliseconds);
        }
        return largest;
    }
}
