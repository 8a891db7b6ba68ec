namespace Ferry.Loop;

/// <summary>
/// A socket (with whatever it owns: connections, buffers, timers) that can change loops while its
/// owner moves: detached on the old loop, so what arrives meanwhile waits in the kernel's buffers,
/// then attached on the new one. Nothing is copied and no byte is lost.
/// </summary>
internal interface IMovableSocket
{
    /// <summary>First half of a move, on the current loop: stops watching here and belongs to <paramref name="target"/> from now on.</summary>
    void Detach(EventLoop target);

    /// <summary>Second half of a move, on the new loop: watches its fds (and arms its timers) there.</summary>
    void Attach();
}
