using System.Text.Json;

namespace Ferry.Server.Signaling;

/// <summary>
/// The channel of a peer whose room arrived on this node before its WebSocket did (the room moved here from
/// another node and the client is reconnecting). Notifications wait, bounded in count; requests wait for the
/// connection, bounded in time; the room gives the peer up when no connection came within its grace.
/// </summary>
public sealed class AwaitingPeerChannel : IPeerChannel
{
    private readonly Queue<(string Method, object? Data)> _pending = new();
    private readonly TaskCompletionSource<IPeerChannel> _attached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _maxPending;
    private readonly TimeSpan _requestTimeout;

    /// <summary>Creates the channel.</summary>
    /// <param name="maxPending">Notifications kept until the peer connects (beyond, the oldest are dropped and counted).</param>
    /// <param name="requestTimeout">How long a request waits for the connection before it fails.</param>
    public AwaitingPeerChannel(int maxPending = 256, TimeSpan? requestTimeout = null)
    {
        _maxPending = maxPending;
        _requestTimeout = requestTimeout ?? TimeSpan.FromSeconds(20);
    }

    /// <summary>Notifications dropped because too many waited.</summary>
    public int Dropped { get; private set; }

    /// <summary>Completes with the connection once the peer reconnected.</summary>
    public Task<IPeerChannel> Attached => _attached.Task;

    /// <summary>The peer's connection arrived: what waited goes out on it, in order; what comes later goes straight to it.</summary>
    public void Attach(IPeerChannel connection)
    {
        lock (_pending)
        {
            while (_pending.TryDequeue(out var message)) connection.Notify(message.Method, message.Data);
            _attached.TrySetResult(connection);
        }
    }

    /// <inheritdoc />
    public void Notify(string method, object? data)
    {
        lock (_pending)
        {
            if (_attached.Task.IsCompletedSuccessfully)
            {
                _attached.Task.Result.Notify(method, data);
                return;
            }
            if (_pending.Count >= _maxPending)
            {
                _pending.Dequeue();
                Dropped++;
            }
            _pending.Enqueue((method, data));
        }
    }

    /// <inheritdoc />
    public async Task<JsonElement> RequestAsync(string method, object? data)
    {
        IPeerChannel connection;
        try
        {
            connection = await _attached.Task.WaitAsync(_requestTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{method}: the peer did not reconnect within {_requestTimeout.TotalSeconds:F0} s");
        }
        return await connection.RequestAsync(method, data);
    }

    /// <inheritdoc />
    public Task CloseAsync(string reason = "closed", bool serverGoingAway = false)
    {
        _attached.TrySetException(new InvalidOperationException($"peer closed: {reason}"));
        _ = _attached.Task.Exception;
        return Task.CompletedTask;
    }
}
