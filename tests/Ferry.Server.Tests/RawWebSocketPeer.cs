using System.Net.Sockets;
using System.Text;

namespace Ferry.Server.Tests;

/// <summary>
/// A WebSocket client written byte by byte over TCP, for peers a real client library will not play: one
/// that never reads, never answers a ping, or stops in the middle of a frame.
/// </summary>
public sealed class RawWebSocketPeer : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private RawWebSocketPeer(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>Completes the protoo handshake; a small receive buffer makes a never-reading peer's window fill early.</summary>
    public static async Task<RawWebSocketPeer> ConnectAsync(string baseUrl, string roomId, string peerId, int receiveBufferSize = 0)
    {
        var tcp = new TcpClient();
        if (receiveBufferSize > 0) tcp.ReceiveBufferSize = receiveBufferSize;
        var uri = new Uri(baseUrl);
        await tcp.ConnectAsync(uri.Host, uri.Port);
        var peer = new RawWebSocketPeer(tcp);
        var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
        var handshake = $"GET /?roomId={roomId}&peerId={peerId} HTTP/1.1\r\nHost: {uri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                        $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: protoo\r\n\r\n";
        await peer._stream.WriteAsync(Encoding.ASCII.GetBytes(handshake));
        // Byte by byte up to the blank line: what follows belongs to the WebSocket.
        var header = new StringBuilder();
        var one = new byte[1];
        while (!header.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await peer._stream.ReadAsync(one).AsTask().WaitAsync(TimeSpan.FromSeconds(10)) == 0) throw new IOException($"closed during the handshake: {header}");
            header.Append((char)one[0]);
        }
        if (!header.ToString().StartsWith("HTTP/1.1 101", StringComparison.Ordinal)) throw new IOException($"not upgraded: {header}");
        return peer;
    }

    /// <summary>
    /// A masked text frame, as a client must send; <paramref name="cut"/> bytes of it only, when given;
    /// without <paramref name="fin"/>, the first fragment of a message.
    /// </summary>
    public Task SendTextAsync(string text, int? cut = null, bool fin = true)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var frame = new List<byte> { (byte)(fin ? 0x81 : 0x01) };
        if (payload.Length < 126) frame.Add((byte)(0x80 | payload.Length));
        else if (payload.Length <= ushort.MaxValue) frame.AddRange([0x80 | 126, (byte)(payload.Length >> 8), (byte)payload.Length]);
        else throw new ArgumentException("payload too long for this helper");
        byte[] mask = [1, 2, 3, 4];
        frame.AddRange(mask);
        for (var i = 0; i < payload.Length; i++) frame.Add((byte)(payload[i] ^ mask[i % 4]));
        var bytes = frame.ToArray();
        return _stream.WriteAsync(bytes.AsMemory(0, cut ?? bytes.Length)).AsTask();
    }

    /// <summary>
    /// Reads what the server sends until it closes the connection, and returns the close frame's status
    /// and reason if one came (frames before it are skipped).
    /// </summary>
    public async Task<(int Status, string Reason)?> ReadUntilClosedAsync(TimeSpan timeout)
    {
        using var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            int n;
            while ((n = await _stream.ReadAsync(buffer, cts.Token)) > 0) all.Write(buffer, 0, n);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // Reset by the server: what came before still counts.
        }
        var data = all.ToArray();
        var at = 0;
        while (at + 2 <= data.Length)
        {
            var opcode = data[at] & 0x0F;
            long length = data[at + 1] & 0x7F;
            var header = 2;
            if (length == 126) { length = (data[at + 2] << 8) | data[at + 3]; header = 4; }
            else if (length == 127) { length = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(at + 2)); header = 10; }
            if (at + header + length > data.Length) break;
            if (opcode == 8 && length >= 2)
                return ((data[at + header] << 8) | data[at + header + 1], Encoding.UTF8.GetString(data, at + header + 2, (int)length - 2));
            at += header + (int)length;
        }
        return null;
    }

    public void Dispose() => _tcp.Dispose();
}
