using System.Text.Json;

namespace Ferry.Server.Signaling;

/// <summary>How the room talks to a peer: a protoo WebSocket, or nothing for an HTTP broadcaster.</summary>
public interface IPeerChannel
{
    /// <summary>Sends a notification.</summary>
    void Notify(string method, object? data);

    /// <summary>Sends a notification; completes once it went out to the peer (or was dropped). Never faults.</summary>
    Task NotifyAsync(string method, object? data)
    {
        Notify(method, data);
        return Task.CompletedTask;
    }

    /// <summary>Sends a request and waits for the answer.</summary>
    Task<JsonElement> RequestAsync(string method, object? data);

    /// <summary>Closes the channel, telling the peer why.</summary>
    /// <param name="reason">Said in the close frame (at most 123 bytes of UTF-8).</param>
    /// <param name="serverGoingAway">The server is stopping (WebSocket status 1001) rather than closing this peer alone.</param>
    Task CloseAsync(string reason = "closed", bool serverGoingAway = false);
}

/// <summary>The channel of a broadcaster (mediasoup-demo's HTTP API): it polls nothing and is told nothing.</summary>
public sealed class SilentChannel : IPeerChannel
{
    /// <summary>The one instance.</summary>
    public static readonly SilentChannel Instance = new();

    /// <inheritdoc />
    public void Notify(string method, object? data)
    {
    }

    /// <inheritdoc />
    public Task<JsonElement> RequestAsync(string method, object? data) => Task.FromResult(default(JsonElement));

    /// <inheritdoc />
    public Task CloseAsync(string reason = "closed", bool serverGoingAway = false) => Task.CompletedTask;
}
