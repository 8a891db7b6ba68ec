namespace Ferry.Loop;

/// <summary>
/// An object that can take the blame for an exception thrown on its loop by one of its sockets or timers:
/// it closes itself (and what depends on it), so the loop, and every other router on it, goes on.
/// </summary>
internal interface ILoopFaultHandler
{
    /// <summary>What to call it in logs, events and metrics ("transport 1f2e…").</summary>
    string FaultDescription { get; }

    /// <summary>Called on the loop after <paramref name="error"/> escaped one of its handlers or timers.</summary>
    void OnLoopFault(Exception error);
}

/// <summary>An exception a loop caught from a handler, a timer or a posted action, and whom it blamed.</summary>
/// <param name="Error">The exception.</param>
/// <param name="Owner">The object closed for it, or null when none could be told (then only reported).</param>
internal sealed record LoopFault(Exception Error, ILoopFaultHandler? Owner);
