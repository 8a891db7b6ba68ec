using System.Text.Json;

namespace Ferry.Server.Tests;

/// <summary>
/// A server process stopped and continued (SIGSTOP/SIGCONT: a debugger, a paused container, a VM migration)
/// goes on serving: the stop interrupts every worker's epoll_wait with EINTR, which a worker must take as
/// "wait again". It used to read the error after another system call had reset it, saw "errno 0" and died.
/// </summary>
public sealed class StopContinueTests
{
    private const int Sigstop = 19;
    private const int Sigcont = 18;

    [Fact]
    public async Task Workers_survive_a_stop_and_continue_of_the_process()
    {
        var server = new ServerProcessFixture();
        await server.InitializeAsync();
        try
        {
            for (var round = 0; round < 3; round++)
            {
                server.Signal(Sigstop);
                await Task.Delay(200);
                server.Signal(Sigcont);
            }
            // Every worker alive, and a peer can still join a room.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            JsonElement workers;
            while (true)
            {
                workers = await server.GetJsonAsync("/api/workers");
                if (workers.GetArrayLength() > 0) break;
                Assert.True(DateTime.UtcNow < deadline, "no workers listed");
                await Task.Delay(100);
            }
            foreach (var worker in workers.EnumerateArray())
                Assert.False(worker.GetProperty("died").GetBoolean(), $"a worker died after SIGSTOP/SIGCONT:\n{server.Output}");
            await using var peer = await ProtooTestClient.ConnectAsync(server.Url, "stop-continue", "alice");
            var caps = await peer.RequestAsync("getRouterRtpCapabilities");
            Assert.Equal(JsonValueKind.Object, caps.ValueKind);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
