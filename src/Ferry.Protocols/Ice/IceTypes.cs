using Ferry.Protocols.Net;

namespace Ferry.Protocols.Ice;

/// <summary>ICE state of a transport, as mediasoup names them.</summary>
public enum IceState : byte
{
    /// <summary>No valid check received yet.</summary>
    New,
    /// <summary>A valid check arrived; a tuple is selected but not nominated.</summary>
    Connected,
    /// <summary>The peer nominated a tuple (USE-CANDIDATE or NOMINATION).</summary>
    Completed,
    /// <summary>Consent expired or every tuple was removed.</summary>
    Disconnected,
    /// <summary>The agent was closed.</summary>
    Closed,
}

/// <summary>What <see cref="IceLiteAgent.HandleStun"/> did with a datagram.</summary>
public enum IceStunResult : byte
{
    /// <summary>A valid Binding request: a success response was written.</summary>
    Success,
    /// <summary>A bad request: an error response was written (see <see cref="IceLiteAgent.LastErrorCode"/>).</summary>
    ErrorResponse,
    /// <summary>Not a request we answer (indication, response, other method): nothing written.</summary>
    Ignored,
    /// <summary>Not a well-formed STUN message: nothing written.</summary>
    Malformed,
}

/// <summary>Something the agent reports upward, polled with <see cref="IceLiteAgent.TryPollEvent"/>.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="State">The new state, for <see cref="IceEventKind.StateChanged"/>.</param>
/// <param name="Tuple">The new selected tuple, for <see cref="IceEventKind.SelectedTupleChanged"/>.</param>
public readonly record struct IceEvent(IceEventKind Kind, IceState State, TransportTuple Tuple);

/// <summary>Kinds of <see cref="IceEvent"/>.</summary>
public enum IceEventKind : byte
{
    /// <summary>iceState changed (mediasoup's "icestatechange").</summary>
    StateChanged,
    /// <summary>The selected tuple changed (mediasoup's "iceselectedtuplechange").</summary>
    SelectedTupleChanged,
}

/// <summary>The agent's state as plain data, to continue it elsewhere.</summary>
public sealed record IceLiteAgentState
{
    /// <summary>Current local ufrag.</summary>
    public required string LocalUfrag { get; init; }
    /// <summary>Current local password.</summary>
    public required string LocalPassword { get; init; }
    /// <summary>Ufrag before the last restart, still accepted until the peer uses the new one.</summary>
    public string? OldUfrag { get; init; }
    /// <summary>Password before the last restart.</summary>
    public string? OldPassword { get; init; }
    /// <summary>State.</summary>
    public IceState State { get; init; }
    /// <summary>Validated tuples, oldest first.</summary>
    public required IReadOnlyList<TransportTuple> Tuples { get; init; }
    /// <summary>The selected tuple, if any.</summary>
    public TransportTuple? Selected { get; init; }
    /// <summary>Highest NOMINATION value seen.</summary>
    public uint LastNomination { get; init; }
    /// <summary>Consent timeout (zero = disabled).</summary>
    public TimeSpan ConsentTimeout { get; init; }
    /// <summary>When consent expires (MaxValue when not running); in the exporting clock's time.</summary>
    public TimeSpan ConsentDeadline { get; init; }
}
