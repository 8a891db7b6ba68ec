namespace Ferry.Loop;

/// <summary>Work posted to a loop from another thread. Abandoned (with an error for the caller) when the loop has stopped.</summary>
internal abstract class LoopCommand
{
    public abstract void Run();
    public abstract void Abandon(Exception reason);

    public static LoopCommand FromAction(Action action) => new ActionCommand(action);

    private sealed class ActionCommand(Action action) : LoopCommand
    {
        public override void Run() => action();
        public override void Abandon(Exception reason) { }
    }
}

/// <summary>A command whose result or exception completes a task for its caller; an exception here is a control-path error, not a dead worker.</summary>
internal sealed class LoopCommand<T>(Func<T> func) : LoopCommand
{
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<T> Task => _completion.Task;

    public override void Run()
    {
        T result;
        try { result = func(); }
        catch (Exception e) { _completion.TrySetException(e); return; }
        _completion.TrySetResult(result);
    }

    public override void Abandon(Exception reason) => _completion.TrySetException(reason);
}
