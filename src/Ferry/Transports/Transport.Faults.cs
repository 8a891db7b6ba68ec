using Ferry.Loop;

namespace Ferry.Transports;

/// <summary>
/// A transport answers for an exception from its sockets or timers (its producers' and consumers'
/// included): it closes, with its producers (so their consumers elsewhere) and consumers, and
/// every other object of the worker goes on.
/// </summary>
public abstract partial class Transport : ILoopFaultHandler
{
    string ILoopFaultHandler.FaultDescription => $"transport {Id}";

    void ILoopFaultHandler.OnLoopFault(Exception error) => CloseOnLoop(TransportCloseReason.Closed);

    /// <summary>Test seam: called per datagram received by this transport's sockets when set (a fault injected on the media path).</summary>
    internal Action? InjectedReceiveFault { get; set; }
}
