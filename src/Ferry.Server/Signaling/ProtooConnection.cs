using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Signaling;

/// <summary>What a request handler answers: the response data, and work to do once the response is on the wire.</summary>
/// <param name="Data">Response data (serialized as JSON).</param>
/// <param name="After">Runs after the response was queued (e.g. creating consumers after join).</param>
public sealed record ProtooResult(object? Data, Func<Task>? After = null);

/// <summary>
/// One protoo peer over a WebSocket (subprotocol "protoo"): JSON requests, responses and
/// notifications both ways. Sends go through one queue so concurrent writers never interleave frames.
/// </summary>
public sealed class ProtooConnection : IPeerChannel
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(20);

    private readonly WebSocket _socket;
    private readonly ILogger _logger;
    private readonly Channel<byte[]> _outgoing = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private long _nextId = Random.Shared.Next(1, 10_000_000);

    /// <summary>Wraps an accepted WebSocket.</summary>
    public ProtooConnection(WebSocket socket, ILogger logger)
    {
        _socket = socket;
        _logger = logger;
    }

    /// <summary>Handles each request from the peer.</summary>
    public Func<string, JsonElement, Task<ProtooResult>>? OnRequest { get; set; }

    /// <summary>True once the socket closed.</summary>
    public bool Closed { get; private set; }

    /// <summary>Runs until the socket closes: reads messages, writes the queue.</summary>
    public async Task RunAsync(CancellationToken cancellation)
    {
        var writer = WriteLoopAsync(cancellation);
        try
        {
            await ReadLoopAsync(cancellation);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            _logger.LogDebug(e, "protoo socket ended");
        }
        finally
        {
            Closed = true;
            _outgoing.Writer.TryComplete();
            foreach (var pending in _pending.Values) pending.TrySetException(new InvalidOperationException("peer closed"));
            await writer;
            if (_socket.State == WebSocketState.Open)
            {
                try { await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None); }
                catch (WebSocketException) { }
            }
        }
    }

    /// <summary>Sends a notification (fire and forget; dropped once closed).</summary>
    public void Notify(string method, object? data) =>
        Enqueue(new JsonObject { ["notification"] = true, ["method"] = method, ["data"] = ToNode(data) });

    /// <summary>Sends a request to the peer and waits for its answer.</summary>
    /// <exception cref="ProtooRequestException">The peer answered ok:false.</exception>
    /// <exception cref="TimeoutException">No answer in 20 s.</exception>
    public async Task<JsonElement> RequestAsync(string method, object? data)
    {
        var id = Interlocked.Increment(ref _nextId);
        var tcs = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        Enqueue(new JsonObject { ["request"] = true, ["id"] = id, ["method"] = method, ["data"] = ToNode(data) });
        try
        {
            return await tcs.Task.WaitAsync(RequestTimeout);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// Sends a close frame (a peer replaced by a new connection with the same id, or the server stopping);
    /// <see cref="RunAsync"/> ends when the peer answers it or the connection is aborted.
    /// </summary>
    public async Task CloseAsync(string reason = "closed", bool serverGoingAway = false)
    {
        if (_socket.State == WebSocketState.Open)
        {
            var status = serverGoingAway ? WebSocketCloseStatus.EndpointUnavailable : WebSocketCloseStatus.NormalClosure;
            try { await _socket.CloseOutputAsync(status, reason, CancellationToken.None); }
            catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException) { }
        }
    }

    private static JsonNode? ToNode(object? data) => data switch
    {
        null => new JsonObject(),
        JsonNode node => node,
        _ => JsonSerializer.SerializeToNode(data, data.GetType(), ServerJson.Options),
    };

    private void Enqueue(JsonObject message)
    {
        if (Closed) return;
        _outgoing.Writer.TryWrite(Encoding.UTF8.GetBytes(message.ToJsonString()));
    }

    private async Task WriteLoopAsync(CancellationToken cancellation)
    {
        try
        {
            await foreach (var message in _outgoing.Reader.ReadAllAsync(cancellation))
            {
                if (_socket.State != WebSocketState.Open) continue;
                await _socket.SendAsync(message, WebSocketMessageType.Text, true, cancellation);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            _logger.LogDebug(e, "protoo write ended");
        }
    }

    private async Task ReadLoopAsync(CancellationToken cancellation)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (_socket.State == WebSocketState.Open)
        {
            var result = await _socket.ReceiveAsync(buffer, cancellation);
            if (result.MessageType == WebSocketMessageType.Close) return;
            message.Write(buffer, 0, result.Count);
            if (message.Length > 1 << 20) throw new WebSocketException("message too large");
            if (!result.EndOfMessage) continue;
            var bytes = message.ToArray();
            message.SetLength(0);
            HandleMessage(bytes);
        }
    }

    private void HandleMessage(byte[] bytes)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(bytes).RootElement;
        }
        catch (JsonException)
        {
            _logger.LogDebug("protoo: invalid JSON dropped");
            return;
        }
        if (root.ValueKind != JsonValueKind.Object) return;
        if (Is(root, "request"))
        {
            if (!root.TryGetProperty("id", out var idElement) || !root.TryGetProperty("method", out var methodElement) || methodElement.ValueKind != JsonValueKind.String)
            {
                _logger.LogDebug("protoo: request without id or method dropped");
                return;
            }
            var data = root.TryGetProperty("data", out var d) ? d : default;
            _ = HandleRequestAsync(idElement.Clone(), methodElement.GetString()!, data.ValueKind == JsonValueKind.Undefined ? default : data.Clone());
        }
        else if (Is(root, "response"))
        {
            if (!root.TryGetProperty("id", out var idElement) || !idElement.TryGetInt64(out var id) || !_pending.TryGetValue(id, out var tcs)) return;
            if (Is(root, "ok")) tcs.TrySetResult(root.TryGetProperty("data", out var data) ? data.Clone() : default);
            else
            {
                var code = root.TryGetProperty("errorCode", out var c) && c.TryGetInt32(out var n) ? n : 500;
                var reason = root.TryGetProperty("errorReason", out var r) ? r.ToString() : "error";
                tcs.TrySetException(new ProtooRequestException(reason, code));
            }
        }
        // Notifications from clients carry nothing the room needs.
    }

    private static bool Is(JsonElement root, string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private async Task HandleRequestAsync(JsonElement id, string method, JsonElement data)
    {
        ProtooResult? result = null;
        JsonObject response;
        try
        {
            if (OnRequest is null) throw new ProtooRequestException("not ready");
            result = await OnRequest(method, data);
            response = new JsonObject { ["response"] = true, ["id"] = JsonNode.Parse(id.GetRawText()), ["ok"] = true, ["data"] = ToNode(result.Data) };
        }
        catch (Exception e) when (e is ProtooRequestException or ArgumentException or InvalidOperationException or NotSupportedException or JsonException or TimeoutException)
        {
            var code = e is ProtooRequestException p ? p.Code : 500;
            _logger.LogDebug("protoo request {Method} refused: {Reason}", method, e.Message);
            response = new JsonObject { ["response"] = true, ["id"] = JsonNode.Parse(id.GetRawText()), ["ok"] = false, ["errorCode"] = code, ["errorReason"] = e.Message };
        }
        catch (Exception e)
        {
            _logger.LogError(e, "protoo request {Method} failed", method);
            response = new JsonObject { ["response"] = true, ["id"] = JsonNode.Parse(id.GetRawText()), ["ok"] = false, ["errorCode"] = 500, ["errorReason"] = e.Message };
        }
        Enqueue(response);
        if (result?.After is { } after)
        {
            try { await after(); }
            catch (Exception e) { _logger.LogWarning(e, "after {Method}", method); }
        }
    }
}
