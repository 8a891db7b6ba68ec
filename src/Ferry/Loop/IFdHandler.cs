namespace Ferry.Loop;

/// <summary>
/// Something the loop watches a file descriptor for. Called on the loop thread only; a handler
/// must not throw for bad input (count and drop instead). A throw is treated as a bug in the object
/// the handler serves (<see cref="FaultHandler"/>): that object is closed and the fault reported,
/// and the worker goes on serving everything else.
/// </summary>
internal interface IFdHandler
{
    /// <summary>The fd is readable (or in error, which the next read will report).</summary>
    void OnReadable();

    /// <summary>The fd is writable again after a send reported EAGAIN. Only called when write interest was requested.</summary>
    void OnWritable() { }
    /// <summary>The object to close when this handler throws; null when none (the fault is only reported).</summary>
    ILoopFaultHandler? FaultHandler => null;
}
