using Ferry.Loop;

namespace Ferry;

/// <summary>A router answers for an exception from its own timers (its observers'): it closes, the worker goes on.</summary>
public sealed partial class Router : ILoopFaultHandler
{
    string ILoopFaultHandler.FaultDescription => $"router {Id}";

    void ILoopFaultHandler.OnLoopFault(Exception error) => CloseOnLoop(RouterCloseReason.Closed);
}
