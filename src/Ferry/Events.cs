using Microsoft.Extensions.Logging;

namespace Ferry;

/// <summary>
/// mediasoup's "safe emit": a listener that throws must not break the emitter (on a worker thread
/// it would kill the loop), so the exception is logged and the remaining listeners still run.
/// </summary>
internal static class Events
{
    public static void Emit(Action? handler, ILogger logger)
    {
        if (handler is null) return;
        foreach (var d in handler.GetInvocationList())
        {
            try { ((Action)d)(); }
            catch (Exception e) { logger.LogError(e, "event listener threw"); }
        }
    }

    public static void Emit<T>(Action<T>? handler, T arg, ILogger logger)
    {
        if (handler is null) return;
        foreach (var d in handler.GetInvocationList())
        {
            try { ((Action<T>)d)(arg); }
            catch (Exception e) { logger.LogError(e, "event listener threw"); }
        }
    }

    public static void Emit<T1, T2>(Action<T1, T2>? handler, T1 arg1, T2 arg2, ILogger logger)
    {
        if (handler is null) return;
        foreach (var d in handler.GetInvocationList())
        {
            try { ((Action<T1, T2>)d)(arg1, arg2); }
            catch (Exception e) { logger.LogError(e, "event listener threw"); }
        }
    }
}
