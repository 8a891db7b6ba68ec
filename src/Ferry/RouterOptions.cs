using Ferry.Protocols.Ortc;

namespace Ferry;

/// <summary>Options of <see cref="Worker.CreateRouterAsync"/>, as mediasoup's <c>RouterOptions</c>.</summary>
public sealed record RouterOptions
{
    /// <summary>The codecs the router offers; payload types are assigned where not given.</summary>
    public IReadOnlyList<RtpCodecCapability>? MediaCodecs { get; init; }

    /// <summary>Application data, not used by Ferry.</summary>
    public object? AppData { get; init; }
}

/// <summary>Why a router closed.</summary>
internal enum RouterCloseReason : byte
{
    /// <summary>Its <see cref="Router.CloseAsync"/> was called.</summary>
    Closed,
    /// <summary>Its worker closed or died.</summary>
    WorkerClosed,
}
