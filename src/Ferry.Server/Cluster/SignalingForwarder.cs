using System.Buffers;
using System.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace Ferry.Server.Cluster;

/// <summary>Counts of this node's forwarded signaling connections (peers whose WebSocket is here and room elsewhere).</summary>
public sealed class ForwarderCounters
{
    /// <summary>Connections forwarded since start.</summary>
    public long Forwarded;

    /// <summary>Forwarded connections open now.</summary>
    public long Open;

    /// <summary>Times a forwarded connection lost its room's node without a close and reached the room's new node.</summary>
    public long Resumed;

    /// <summary>Forwarded connections ended because their room was on no live node within the resume window.</summary>
    public long Lost;
}

/// <summary>
/// Carries a peer's protoo WebSocket, accepted on this node, to the node its room lives on, message by message both
/// ways. The peer sees one connection. When the room's node closes its side, the peer's is closed the same way; when
/// that node goes away without a close (it died), the forwarder finds the room's new node (a standby that took it
/// over, see the failover issue) and reconnects there under the same room and peer ids, so the session resumes there
/// while the peer's WebSocket stays up. A message the dead node never answered is not sent again: the peer's request
/// times out, as it would on a direct connection.
/// </summary>
internal sealed class SignalingForwarder
{
    /// <summary>Header a forwarded connection carries: the receiving node serves it and never forwards it again.</summary>
    public const string ForwardedHeader = "X-Ferry-Forwarded-By";

    /// <summary>The largest message carried (protoo's own limit).</summary>
    private const int MaxMessageBytes = 1 << 20;

    private readonly WebSocket _client;
    private readonly string _pathAndQuery;
    private readonly string _nodeId;
    private readonly Func<CancellationToken, Task<RoomHost?>> _find;
    private readonly ForwarderOptions _options;
    private readonly ForwarderCounters _counters;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private TaskCompletionSource<WebSocket?> _upstream = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SignalingForwarder(WebSocket client, string pathAndQuery, string nodeId, Func<CancellationToken, Task<RoomHost?>> find, ForwarderOptions options, ForwarderCounters counters, ILogger logger)
    {
        _client = client;
        _pathAndQuery = pathAndQuery;
        _nodeId = nodeId;
        _find = find;
        _options = options;
        _counters = counters;
        _logger = logger;
    }

    /// <summary>
    /// Connects to <paramref name="host"/> and carries <paramref name="client"/> there until either side ends.
    /// <paramref name="pathAndQuery"/> is the peer's request path and query (room and peer ids), sent as they came;
    /// <paramref name="find"/> says where the room lives after its node went away.
    /// </summary>
    /// <returns>False when the first connection to the room's node failed (the caller tells the peer); true once carried.</returns>
    public static async Task<bool> RunAsync(WebSocket client, RoomHost host, string pathAndQuery, string nodeId, Func<CancellationToken, Task<RoomHost?>> find,
        ForwarderOptions options, ForwarderCounters counters, ILogger logger, CancellationToken aborted)
    {
        var forwarder = new SignalingForwarder(client, pathAndQuery, nodeId, find, options, counters, logger);
        var first = await forwarder.ConnectAsync(host, aborted);
        if (first is null) return false;
        Interlocked.Increment(ref counters.Forwarded);
        Interlocked.Increment(ref counters.Open);
        try
        {
            forwarder._upstream.SetResult(first);
            await forwarder.CarryAsync(first, aborted);
        }
        finally
        {
            Interlocked.Decrement(ref counters.Open);
        }
        return true;
    }

    private async Task<WebSocket?> ConnectAsync(RoomHost host, CancellationToken aborted, bool resume = false)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("protoo");
        socket.Options.SetRequestHeader(ForwardedHeader, _nodeId);
        socket.Options.KeepAliveInterval = _options.KeepAliveInterval;
        socket.Options.KeepAliveTimeout = _options.KeepAliveTimeout;
        var uri = new UriBuilder(host.Url) { Scheme = host.Url.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? "wss" : "ws" }.Uri;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted);
            timeout.CancelAfter(_options.ConnectTimeout);
            // A resumed session must find its room there, never open a new one (FerryServer: resume=1).
            var path = resume && !_pathAndQuery.Contains("resume=1", StringComparison.Ordinal) ? _pathAndQuery + "&resume=1" : _pathAndQuery;
            await socket.ConnectAsync(new Uri(uri, path), timeout.Token);
            return socket;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or HttpRequestException)
        {
            _logger.LogInformation("forwarding to node {NodeId} failed: {Error}", host.NodeId, e.Message);
            socket.Dispose();
            return null;
        }
    }

    /// <summary>Runs both directions until the peer or the room's node ends the session.</summary>
    private async Task CarryAsync(WebSocket first, CancellationToken aborted)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var up = ClientToUpstreamAsync(stop.Token);
        var down = UpstreamToClientAsync(first, stop.Token);
        await Task.WhenAny(up, down);
        await stop.CancelAsync();
        try { await Task.WhenAll(up, down); }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException) { }
        WebSocket? last;
        lock (_gate) last = _upstream.Task.IsCompletedSuccessfully ? _upstream.Task.Result : null;
        last?.Dispose();
    }

    /// <summary>The peer's messages to the current upstream; waits while a new one is being found.</summary>
    private async Task ClientToUpstreamAsync(CancellationToken stop)
    {
        using var buffer = new MessageBuffer();
        {
            while (true)
            {
                var (length, type, close) = await ReceiveMessageAsync(_client, buffer, stop);
                Task<WebSocket?> current;
                lock (_gate) current = _upstream.Task;
                var upstream = await current.WaitAsync(stop);
                if (close is { } status)
                {
                    // The peer left: its room's node removes it as for a direct connection.
                    if (upstream is not null) await CloseQuietlyAsync(upstream, status, _client.CloseStatusDescription);
                    return;
                }
                if (upstream is null) return;
                try
                {
                    await upstream.SendAsync(buffer.Array.AsMemory(0, length), type, true, stop);
                }
                catch (Exception e) when (e is WebSocketException or ObjectDisposedException)
                {
                    // The node went away with this message: it is not sent again (the reader finds the new node).
                }
            }
        }
    }

    /// <summary>The room node's messages to the peer; on a node lost without a close, the room's new node.</summary>
    private async Task UpstreamToClientAsync(WebSocket upstream, CancellationToken stop)
    {
        using var buffer = new MessageBuffer();
        {
            while (true)
            {
                int length;
                WebSocketMessageType type;
                WebSocketCloseStatus? close;
                try
                {
                    (length, type, close) = await ReceiveMessageAsync(upstream, buffer, stop);
                }
                catch (WebSocketException e) when (!stop.IsCancellationRequested)
                {
                    _logger.LogInformation("the room's node closed a forwarded connection without a word ({Error}): finding the room's node", e.Message);
                    var next = await ResumeAsync(upstream, stop);
                    if (next is null) return;
                    upstream = next;
                    continue;
                }
                if (close is { } status)
                {
                    await CloseQuietlyAsync(_client, status, upstream.CloseStatusDescription);
                    return;
                }
                await _client.SendAsync(buffer.Array.AsMemory(0, length), type, true, stop);
            }
        }
    }

    /// <summary>Finds the room's node again and connects there, within the resume window; null (peer closed) if none.</summary>
    private async Task<WebSocket?> ResumeAsync(WebSocket lost, CancellationToken stop)
    {
        var waiting = new TaskCompletionSource<WebSocket?>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate) _upstream = waiting;
        lost.Dispose();
        var deadline = DateTime.UtcNow + _options.ResumeWindow;
        while (DateTime.UtcNow < deadline && !stop.IsCancellationRequested)
        {
            // The room may have come back on this very node: the connection then goes to this node's own URL.
            if (await _find(stop) is { } host)
            {
                if (await ConnectAsync(host, stop, resume: true) is { } next)
                {
                    Interlocked.Increment(ref _counters.Resumed);
                    _logger.LogInformation("forwarded connection resumed on node {NodeId}", host.NodeId);
                    waiting.SetResult(next);
                    return next;
                }
            }
            try { await Task.Delay(_options.ResumeRetry, stop); }
            catch (OperationCanceledException) { break; }
        }
        Interlocked.Increment(ref _counters.Lost);
        waiting.TrySetResult(null);
        await CloseQuietlyAsync(_client, WebSocketCloseStatus.EndpointUnavailable, "the room's node is gone");
        return null;
    }

    /// <summary>
    /// One whole message (or the close), at most <see cref="MaxMessageBytes"/>, into <paramref name="buffer"/>: a pooled
    /// array that grows for a large message (a connection holds a small one most of its life).
    /// </summary>
    private static async Task<(int Length, WebSocketMessageType Type, WebSocketCloseStatus? Close)> ReceiveMessageAsync(WebSocket socket, MessageBuffer buffer, CancellationToken stop)
    {
        var length = 0;
        while (true)
        {
            if (length == buffer.Array.Length)
            {
                if (length >= MaxMessageBytes) throw new WebSocketException("message too large");
                buffer.Grow(Math.Min(MaxMessageBytes, length * 4));
            }
            var result = await socket.ReceiveAsync(buffer.Array.AsMemory(length), stop);
            if (result.MessageType == WebSocketMessageType.Close) return (0, result.MessageType, socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure);
            length += result.Count;
            if (result.EndOfMessage) return (length, result.MessageType, null);
        }
    }

    /// <summary>A pooled receive buffer that can grow; back to the pool when disposed.</summary>
    private sealed class MessageBuffer : IDisposable
    {
        public byte[] Array { get; private set; } = ArrayPool<byte>.Shared.Rent(16 * 1024);

        public void Grow(int size)
        {
            var larger = ArrayPool<byte>.Shared.Rent(size);
            Array.CopyTo(larger, 0);
            ArrayPool<byte>.Shared.Return(Array);
            Array = larger;
        }

        public void Dispose() => ArrayPool<byte>.Shared.Return(Array);
    }

    private static async Task CloseQuietlyAsync(WebSocket socket, WebSocketCloseStatus status, string? description)
    {
        try
        {
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await socket.CloseOutputAsync(status, description, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (Exception e) when (e is WebSocketException or TimeoutException or ObjectDisposedException or OperationCanceledException) { }
    }
}

/// <summary>How a forwarded connection is kept.</summary>
internal sealed record ForwarderOptions
{
    /// <summary>Bound on connecting to the room's node.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Ping interval towards the room's node.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a ping may go unanswered before the room's node is taken as gone.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a connection whose node went away looks for the room's new node before it gives up.</summary>
    public TimeSpan ResumeWindow { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Pause between looks.</summary>
    public TimeSpan ResumeRetry { get; init; } = TimeSpan.FromMilliseconds(250);
}
