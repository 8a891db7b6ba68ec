using System.Net.WebSockets;
using System.Text.Json;

namespace Ferry.Server.Tests;

/// <summary>
/// SIGTERM, as systemd, Docker and Kubernetes send it, stops the server process: peers are told with a
/// close frame, and the process exits 0 within its shutdown timeout (issue 16, finding 6: it used to log
/// "shutting down" and keep serving).
/// </summary>
public sealed class ShutdownTests
{
    private const int Sigterm = 15;

    [Fact]
    public async Task Sigterm_closes_every_peer_with_a_reason_and_exits_within_the_timeout()
    {
        var server = new ServerProcessFixture { ExtraArguments = ["--shutdown-timeout", "4", "--log-level", "Information"] };
        await server.InitializeAsync();
        try
        {
            await using var alice = await ProtooTestClient.ConnectAsync(server.Url, "shutdown", "alice");
            await using var bob = await ProtooTestClient.ConnectAsync(server.Url, "shutdown", "bob");
            var caps = await alice.RequestAsync("getRouterRtpCapabilities");
            foreach (var peer in new[] { alice, bob })
            {
                await peer.RequestAsync("createWebRtcTransport", new { forceTcp = false, producing = true, consuming = false });
                await peer.RequestAsync("join", JsonDocument.Parse("""{"displayName":"x","rtpCapabilities":""" + caps.GetRawText() + "}").RootElement);
            }
            Assert.Equal(2, (await server.GetJsonAsync("/api/rooms")).EnumerateArray().Single().GetProperty("peers").GetInt32());

            server.Signal(Sigterm);

            // Both sockets get the server's close frame, well before the deadline.
            await Task.WhenAll(alice.Ended, bob.Ended).WaitAsync(TimeSpan.FromSeconds(10));
            foreach (var peer in new[] { alice, bob })
            {
                Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, peer.CloseStatus);
                Assert.Equal("server shutting down", peer.CloseReason);
            }
            // The process ends by itself, cleanly: the timeout (4 s) plus the runtime's own exit.
            var exit = await server.WaitForExitAsync(TimeSpan.FromSeconds(15));
            Assert.True(exit is not null, $"still running 15 s after SIGTERM:\n{server.Output}");
            Assert.True(exit == 0, $"exit code {exit}:\n{server.Output}");
            Assert.Contains("stopped in", server.Output);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Sigterm_stops_a_server_whose_peer_never_answers_the_close_frame()
    {
        var server = new ServerProcessFixture { ExtraArguments = ["--shutdown-timeout", "2"] };
        await server.InitializeAsync();
        try
        {
            // A raw socket that completed the WebSocket handshake and then reads nothing, ever.
            using var silent = new System.Net.Sockets.TcpClient();
            var uri = new Uri(server.Url);
            await silent.ConnectAsync(uri.Host, uri.Port);
            var stream = silent.GetStream();
            var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
            var handshake = $"GET /?roomId=silent&peerId=mute HTTP/1.1\r\nHost: {uri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                            $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: protoo\r\n\r\n";
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(handshake));
            var answer = new byte[1024];
            var read = await stream.ReadAsync(answer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.StartsWith("HTTP/1.1 101", System.Text.Encoding.ASCII.GetString(answer, 0, read));
            await WaitForAsync(async () => (await server.GetJsonAsync("/api/rooms")).GetArrayLength() == 1);

            server.Signal(Sigterm);

            var exit = await server.WaitForExitAsync(TimeSpan.FromSeconds(15));
            Assert.True(exit is not null, $"still running 15 s after SIGTERM:\n{server.Output}");
            Assert.True(exit == 0, $"exit code {exit}:\n{server.Output}");
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met in 10 s");
            await Task.Delay(20);
        }
    }
}
