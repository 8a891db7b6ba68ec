using System.Text.Json;
using Ferry.Bench;

namespace Ferry.Bench.Tests;

/// <summary>
/// The bench's smoke mode, run in-process (it still starts its load client as a second process):
/// proves that every figure is produced and written, not what the figures are.
/// </summary>
public sealed class SmokeRunTests
{
    [Fact]
    public async Task Smoke_run_produces_every_figure_and_writes_them_as_json()
    {
        var output = Path.Combine(Path.GetTempPath(), $"ferry-bench-smoke-{Guid.NewGuid():N}.json");
        try
        {
            var results = await Program.RunAsync(["smoke", "--out", output, "--quiet"]);

            // The matrix: PlainTransports in plain RTP, AES-256-GCM and AES-CM; WebRtcTransports in the two SRTP modes.
            Assert.Equal(5, results.Forwarding.Count);
            Assert.Equal(3, results.Forwarding.Count(f => f.Transport == "Plain"));
            Assert.All(results.Forwarding, step =>
            {
                Assert.True(step.PacketsSent > 0, $"Ferry forwarded nothing ({step.Transport} {step.Mode})");
                Assert.True(step.Ferry.Median > 0 && step.Floor.Median > 0 && step.FloorMmsg.Median > 0);
                Assert.True(step.Ferry.Min <= step.Ferry.Median && step.Ferry.Median <= step.Ferry.Max);
                Assert.True(step.PacketsExpected > 0, $"the load client received nothing ({step.Transport} {step.Mode})");
                // RTP only is counted: never more than every datagram the worker sent.
                Assert.InRange(step.RtpShareOfDatagrams, 0.01, 1.0);
                Assert.Equal(0, step.SrtpFailures);
            });
            Assert.Contains(results.SrtpCost, c => c.Implementation.StartsWith("Ferry", StringComparison.Ordinal) && c.NsPerPacket.Median > 0);

            var memory = Assert.IsType<MemoryResult>(results.Memory);
            Assert.True(memory.TransportManaged > 0 && memory.ProducerManaged > 0 && memory.ConsumerManaged > 0);
            Assert.True(memory.ConnectedCount > 0);

            Assert.Equal(2, results.Moves.Count);
            Assert.All(results.Moves, m => Assert.True(m.HandoverP50Ms > 0 && m.PacketsExpected > 0));

            var join = Assert.IsType<JoinResult>(results.Join);
            Assert.True(join.FirstPacketP50Ms > 0);

            Assert.Equal(2, results.TransportMoves.Count);
            Assert.All(results.TransportMoves, m => Assert.True(m.HandoverP50Ms > 0 && m.PacketsExpected > 0));

            var pipes = Assert.IsType<PipeResult>(results.Pipes);
            Assert.True(pipes.InMemoryUsPerPacket > 0 && pipes.UdpUsPerPacket > 0 && pipes.InMemoryOverUdp > 0);
            Assert.True(pipes.InMemoryExpected > 0 && pipes.UdpExpected > 0, "nothing reached the consumer through a pipe");

            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(output));
            var root = json.RootElement;
            foreach (var name in new[] { "forwarding", "memory", "moves", "join", "pipes", "transportMoves" }) Assert.True(root.TryGetProperty(name, out _), $"no '{name}' in the JSON");
            Assert.True(root.GetProperty("forwarding")[0].TryGetProperty("ferryOverFloor", out _));
            Assert.True(root.GetProperty("forwarding")[0].GetProperty("ferry").TryGetProperty("median", out _));
            Assert.True(root.GetProperty("pipes").TryGetProperty("inMemoryOverUdp", out _));
        }
        finally
        {
            File.Delete(output);
        }
    }
}
