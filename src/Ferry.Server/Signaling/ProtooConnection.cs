using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Signaling;

/// <summary>One message from the peer as <see cref="ProtooConnection.Read"/> takes it: a request (<see cref="Id"/>, <see cref="Method"/>, <see cref="Data"/>) or a response (<see cref="ResponseId"/>, <see cref="Ok"/>, then <see cref="Data"/> or <see cref="ErrorCode"/> and <see cref="ErrorReason"/>).</summary>
internal readonly record struct ProtooIncoming(bool IsRequest, JsonElement Id, string? Method, long ResponseId, bool Ok, JsonElement Data, int ErrorCode, string? ErrorReason);

/// <summary>What a request handler answers: the response data, and work to do once the response is on the wire.</summary>
/// <param name="Data">Response data (serialized as JSON).</param>
/// <param name="After">Runs after the response was queued (e.g. creating consumers after join).</param>
public sealed record ProtooResult(object? Data, Func<Task>? After = null);

/// <summary>The bounds of one protoo connection (from <see cref="ServerOptions"/>).</summary>
public sealed record ProtooConnectionOptions
{
    /// <summary>Bytes that may wait in the outgoing queue before the peer is disconnected as not reading.</summary>
    public int SendQueueMaxBytes { get; init; } = 4 << 20;

    /// <summary>How long one outgoing message may take to go out before the peer is disconnected as stuck.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a request to the peer waits for its answer.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long the rest of a message the peer began to send may take.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// One protoo peer over a WebSocket (subprotocol "protoo"): JSON requests, responses and
/// notifications both ways. Sends go through one queue so concurrent writers never interleave frames;
/// the queue is bounded in bytes and each send in time, so a peer that stops reading costs a bounded
/// amount of memory and is then disconnected.
/// </summary>
public sealed class ProtooConnection : IPeerChannel
{
    // How long a peer being disconnected gets to take the close frame before its connection is aborted.
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(1);

    private readonly WebSocket _socket;
    private readonly ILogger _logger;
    private readonly ProtooConnectionOptions _options;
    private readonly Channel<Outgoing> _outgoing = Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly CancellationTokenSource _kill = new();
    private long _nextId = Random.Shared.Next(1, 10_000_000);
    private long _queuedBytes;
    private int _failed;

    /// <summary>Wraps an accepted WebSocket.</summary>
    public ProtooConnection(WebSocket socket, ILogger logger, ProtooConnectionOptions? options = null)
    {
        _socket = socket;
        _logger = logger;
        _options = options ?? new ProtooConnectionOptions();
    }

    /// <summary>Handles each request from the peer.</summary>
    public Func<string, JsonElement, Task<ProtooResult>>? OnRequest { get; set; }

    /// <summary>Named in logs (the peer and room ids).</summary>
    public string Name { get; set; } = "";

    /// <summary>True once the socket closed.</summary>
    public bool Closed { get; private set; }

    /// <summary>Why the server disconnected the peer (queue over its bound, a stuck send or read), or null.</summary>
    public string? FailureReason { get; private set; }

    /// <summary>Bytes waiting in the outgoing queue.</summary>
    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    /// <summary>Runs until the socket closes: reads messages, writes the queue.</summary>
    public async Task RunAsync(CancellationToken cancellation)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, _kill.Token);
        var writer = WriteLoopAsync(linked.Token);
        try
        {
            await ReadLoopAsync(linked.Token);
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
            // A failed peer's write loop may sit in a send that never completes: end it with the connection.
            if (FailureReason is not null) _socket.Abort();
            await writer;
            DropQueued();
            if (_socket.State == WebSocketState.Open)
            {
                try { await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).WaitAsync(CloseGrace); }
                catch (Exception e) when (e is WebSocketException or TimeoutException or ObjectDisposedException) { _socket.Abort(); }
            }
        }
    }

    /// <summary>Sends a notification (fire and forget; dropped once closed).</summary>
    public void Notify(string method, object? data) =>
        Enqueue(new JsonObject { ["notification"] = true, ["method"] = method, ["data"] = ToNode(data) });

    /// <summary>
    /// Sends a notification; the task completes once the socket took it (the peer's TCP stack has it
    /// before anything sent later on any other path), or once it was dropped (the peer is gone). Never faults.
    /// </summary>
    public Task NotifyAsync(string method, object? data)
    {
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(new JsonObject { ["notification"] = true, ["method"] = method, ["data"] = ToNode(data) }, sent);
        return sent.Task;
    }

    /// <summary>Sends a request to the peer and waits for its answer.</summary>
    /// <exception cref="ProtooRequestException">The peer answered ok:false.</exception>
    /// <exception cref="TimeoutException">No answer within the request timeout.</exception>
    public async Task<JsonElement> RequestAsync(string method, object? data)
    {
        var id = Interlocked.Increment(ref _nextId);
        var tcs = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        if (Closed || FailureReason is not null) tcs.TrySetException(new InvalidOperationException("peer closed"));
        Enqueue(new JsonObject { ["request"] = true, ["id"] = id, ["method"] = method, ["data"] = ToNode(data) });
        try
        {
            return await tcs.Task.WaitAsync(_options.RequestTimeout);
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

    /// <summary>
    /// Disconnects the peer for <paramref name="reason"/> (logged): a close frame with the reason if it can
    /// still go out, and the connection aborted shortly after either way.
    /// </summary>
    public void Fail(string reason, WebSocketCloseStatus status = WebSocketCloseStatus.PolicyViolation)
    {
        if (Interlocked.Exchange(ref _failed, 1) != 0) return;
        FailureReason = reason;
        _logger.LogWarning("peer {Peer} disconnected: {Reason}", Name, reason);
        _outgoing.Writer.TryComplete();
        DropQueued();
        _ = CloseAndKillAsync(reason, status);
    }

    private async Task CloseAndKillAsync(string reason, WebSocketCloseStatus status)
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                // The close frame waits behind a send stuck on a full socket; the grace bounds that wait.
                var description = reason.Length > 100 ? reason[..100] : reason;
                await _socket.CloseOutputAsync(status, description, CancellationToken.None).WaitAsync(CloseGrace);
                await Task.Delay(CloseGrace);
            }
        }
        catch (Exception e) when (e is WebSocketException or TimeoutException or ObjectDisposedException or InvalidOperationException)
        {
        }
        finally
        {
            try { await _kill.CancelAsync(); }
            catch (ObjectDisposedException) { }
        }
    }

    // Frees what a peer that will never read holds.
    private void DropQueued()
    {
        while (_outgoing.Reader.TryRead(out var message))
        {
            Interlocked.Add(ref _queuedBytes, -message.Bytes.Length);
            message.Sent?.TrySetResult();
        }
    }

    private static JsonNode? ToNode(object? data) => data switch
    {
        null => new JsonObject(),
        JsonNode node => node,
        _ => JsonSerializer.SerializeToNode(data, data.GetType(), ServerJson.Options),
    };

    private void Enqueue(JsonObject message, TaskCompletionSource? sent = null)
    {
        if (Closed || FailureReason is not null)
        {
            sent?.TrySetResult();
            return;
        }
        var bytes = Encoding.UTF8.GetBytes(message.ToJsonString());
        if (Interlocked.Add(ref _queuedBytes, bytes.Length) > _options.SendQueueMaxBytes)
        {
            Interlocked.Add(ref _queuedBytes, -bytes.Length);
            sent?.TrySetResult();
            Fail($"not reading: more than {_options.SendQueueMaxBytes} bytes queued to it");
            return;
        }
        if (!_outgoing.Writer.TryWrite(new Outgoing(bytes, sent)))
        {
            Interlocked.Add(ref _queuedBytes, -bytes.Length);
            sent?.TrySetResult();
        }
    }

    /// <summary>A message waiting to go out, and who waits for it to have gone (or been dropped).</summary>
    private readonly record struct Outgoing(byte[] Bytes, TaskCompletionSource? Sent);

    private async Task WriteLoopAsync(CancellationToken cancellation)
    {
        try
        {
            while (await _outgoing.Reader.WaitToReadAsync(cancellation))
            {
                if (!_outgoing.Reader.TryRead(out var message)) continue;
                try
                {
                    if (_socket.State != WebSocketState.Open || FailureReason is not null) continue;
                    // A send that cannot finish in time means the peer stopped reading (or its network did).
                    var send = _socket.SendAsync(message.Bytes, WebSocketMessageType.Text, true, cancellation);
                    try
                    {
                        await send.WaitAsync(_options.SendTimeout, cancellation);
                    }
                    catch (TimeoutException)
                    {
                        Fail($"stuck: a message took more than {_options.SendTimeout.TotalSeconds:0.#} s to go out");
                        return;
                    }
                }
                finally
                {
                    Interlocked.Add(ref _queuedBytes, -message.Bytes.Length);
                    message.Sent?.TrySetResult();
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
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
            var receive = _socket.ReceiveAsync(buffer, cancellation);
            if (message.Length > 0)
            {
                // A message begun must go on: a peer stalled in its middle would otherwise stay forever
                // (the keep-alive does not catch it while its TCP stack still answers).
                try { await receive.WaitAsync(_options.ReadTimeout, cancellation); }
                catch (TimeoutException)
                {
                    Fail($"stalled: no progress reading a message for {_options.ReadTimeout.TotalSeconds:0.#} s");
                }
            }
            var result = await receive;
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
        if (Read(bytes, out var dropped) is not { } message)
        {
            if (dropped is not null) _logger.LogDebug("protoo: {Reason} dropped", dropped);
            return;
        }
        if (message.IsRequest)
        {
            _ = HandleRequestAsync(message.Id, message.Method!, message.Data);
        }
        else if (_pending.TryGetValue(message.ResponseId, out var tcs))
        {
            if (message.Ok) tcs.TrySetResult(message.Data);
            else tcs.TrySetException(new ProtooRequestException(message.ErrorReason!, message.ErrorCode));
        }
    }

    /// <summary>
    /// Reads one message from the peer: a request (any JSON id, a string method, data) or a response (a
    /// numeric id, ok, then data or an error code and reason). Null for anything else, never an exception:
    /// <paramref name="dropped"/> says why when it is worth a log line (a notification is not). What is
    /// returned no longer refers to <paramref name="bytes"/>.
    /// </summary>
    internal static ProtooIncoming? Read(byte[] bytes, out string? dropped)
    {
        dropped = null;
        // JsonDocument checks strings for UTF-8 only when they are read, and then throws: check it all first.
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            dropped = "invalid UTF-8";
            return null;
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException)
        {
            dropped = "invalid JSON";
            return null;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            if (Is(root, "request"))
            {
                if (!root.TryGetProperty("id", out var id) || !root.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String)
                {
                    dropped = "request without id or method";
                    return null;
                }
                var data = root.TryGetProperty("data", out var d) && d.ValueKind != JsonValueKind.Undefined ? d.Clone() : default;
                return new ProtooIncoming(true, id.Clone(), method.GetString(), 0, false, data, 0, null);
            }
            if (Is(root, "response"))
            {
                // A response to no request of ours (the ids are our numbers) is nothing to answer.
                if (!root.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.Number || !id.TryGetInt64(out var responseId)) return null;
                if (Is(root, "ok")) return new ProtooIncoming(false, default, null, responseId, true, root.TryGetProperty("data", out var data) ? data.Clone() : default, 0, null);
                var code = root.TryGetProperty("errorCode", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out var n) ? n : 500;
                var reason = root.TryGetProperty("errorReason", out var r) ? r.ToString() : "error";
                return new ProtooIncoming(false, default, null, responseId, false, default, code, reason);
            }
            // Notifications from clients carry nothing the room needs.
            return null;
        }
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
