using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ferry.Server.Tests;

/// <summary>An answer of ok:false.</summary>
public sealed class ProtooErrorException(int code, string reason) : Exception($"{code}: {reason}")
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;
}

/// <summary>A protoo client over a real WebSocket, written from the protocol (requests, responses, notifications).</summary>
public sealed class ProtooTestClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task? _reader;
    private long _nextId;
    private int _disposed;

    public ConcurrentQueue<(string Method, JsonElement Data)> Notifications { get; } = new();
    public ConcurrentQueue<(string Method, JsonElement Data)> ServerRequests { get; } = new();

    /// <summary>Completes when the read loop ends (the server closed the socket, or it broke).</summary>
    public Task Ended => _reader ?? Task.CompletedTask;

    /// <summary>The status of the server's close frame, once one arrived.</summary>
    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    /// <summary>The reason in the server's close frame.</summary>
    public string? CloseReason => _socket.CloseStatusDescription;

    /// <summary>False: server requests are recorded and never answered (a silent peer).</summary>
    public bool AnswerServerRequests { get; set; } = true;

    /// <summary>Answers server requests; ok with empty data by default.</summary>
    public Func<string, JsonElement, bool> AcceptServerRequest { get; set; } = (_, _) => true;

    /// <summary>
    /// When set, answers server requests instead of <see cref="AcceptServerRequest"/>, off the read loop:
    /// it may send requests of its own and wait for their answers first, as mediasoup-client's consume()
    /// connects its transport before the app accepts newConsumer.
    /// </summary>
    public Func<string, JsonElement, Task<bool>>? AcceptServerRequestAsync { get; set; }

    /// <summary>Called on the read loop as each notification arrives, before it is queued (to see what else the client had seen by then).</summary>
    public Action<string, JsonElement>? OnNotification { get; set; }

    public static async Task<ProtooTestClient> ConnectAsync(string baseUrl, string roomId, string peerId)
    {
        var client = new ProtooTestClient();
        client._socket.Options.AddSubProtocol("protoo");
        var ws = new Uri(baseUrl.Replace("http://", "ws://") + $"/?roomId={Uri.EscapeDataString(roomId)}&peerId={Uri.EscapeDataString(peerId)}");
        await client._socket.ConnectAsync(ws, CancellationToken.None);
        client._reader = client.ReadLoopAsync();
        return client;
    }

    public async Task<JsonElement> RequestAsync(string method, object? data = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var tcs = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        await SendAsync(new JsonObject { ["request"] = true, ["id"] = id, ["method"] = method, ["data"] = JsonSerializer.SerializeToNode(data ?? new { }) });
        return await tcs.Task.WaitAsync(TimeSpan.FromSeconds(20));
    }

    public async Task<JsonElement> WaitNotificationAsync(string method, Func<JsonElement, bool>? match = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            foreach (var (m, d) in Notifications)
            {
                if (m == method && (match is null || match(d))) return d;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"no notification {method}");
    }

    public async Task<JsonElement> WaitServerRequestAsync(string method, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            foreach (var (m, d) in ServerRequests)
            {
                if (m == method) return d;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"no server request {method}");
    }

    /// <summary>Sends raw text (for malformed-message tests).</summary>
    public Task SendRawAsync(string text) => SendBytesAsync(Encoding.UTF8.GetBytes(text));

    private Task SendAsync(JsonObject message) => SendBytesAsync(Encoding.UTF8.GetBytes(message.ToJsonString()));

    private async Task SendBytesAsync(byte[] bytes)
    {
        await _sendLock.WaitAsync();
        try { await _socket.SendAsync(bytes, WebSocketMessageType.Text, true, CancellationToken.None); }
        finally { _sendLock.Release(); }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[1 << 20];
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(count), _stop.Token);
                    count += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close) return;
                var root = JsonDocument.Parse(buffer.AsMemory(0, count)).RootElement.Clone();
                if (root.TryGetProperty("response", out _))
                {
                    var id = root.GetProperty("id").GetInt64();
                    if (!_pending.TryRemove(id, out var tcs)) continue;
                    if (root.GetProperty("ok").GetBoolean()) tcs.TrySetResult(root.TryGetProperty("data", out var d) ? d : default);
                    else tcs.TrySetException(new ProtooErrorException(root.GetProperty("errorCode").GetInt32(), root.GetProperty("errorReason").GetString()!));
                }
                else if (root.TryGetProperty("notification", out _))
                {
                    var method = root.GetProperty("method").GetString()!;
                    OnNotification?.Invoke(method, root.GetProperty("data"));
                    Notifications.Enqueue((method, root.GetProperty("data")));
                }
                else if (root.TryGetProperty("request", out _))
                {
                    var method = root.GetProperty("method").GetString()!;
                    var data = root.GetProperty("data");
                    ServerRequests.Enqueue((method, data));
                    if (!AnswerServerRequests) continue;
                    var id = root.GetProperty("id").GetInt64();
                    if (AcceptServerRequestAsync is { } acceptAsync)
                    {
                        _ = AnswerLaterAsync(id, acceptAsync(method, data));
                        continue;
                    }
                    await SendAsync(Response(id, AcceptServerRequest(method, data)));
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
        }
    }

    private static JsonObject Response(long id, bool ok) => ok
        ? new JsonObject { ["response"] = true, ["id"] = id, ["ok"] = true, ["data"] = new JsonObject() }
        : new JsonObject { ["response"] = true, ["id"] = id, ["ok"] = false, ["errorCode"] = 500, ["errorReason"] = "refused" };

    private async Task AnswerLaterAsync(long id, Task<bool> accept)
    {
        bool ok;
        try { ok = await accept; }
        catch (Exception) { ok = false; }   // as the app: a failed consume() rejects the request
        try { await SendAsync(Response(id, ok)); }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException) { }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (_socket.State == WebSocketState.Open)
        {
            try { await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None); }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
        }
        await _stop.CancelAsync();
        if (_reader is not null) await _reader;
        _socket.Dispose();
    }
}
