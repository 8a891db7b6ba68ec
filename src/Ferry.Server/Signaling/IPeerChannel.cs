using System.Text.Json;

namespace Ferry.Server.Signaling;

/// <summary>How the room talks to a peer: a protoo WebSocket, or nothing for an HTTP broadcaster.</summary>
public interface IPeerChannel
{
    /// <summary>Sends a notification.</summary>
    void Notify(string method, object? data);

    /// <summary>Sends a request and waits for the answer.</summary>
    Task<JsonElement> RequestAsync(string method, object? data);

    /// <summary>Closes the channel.</summary>
    Task CloseAsync();
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
    public Task CloseAsync() => Task.CompletedTask;
}
