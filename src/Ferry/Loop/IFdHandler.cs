namespace Ferry.Loop;

/// <summary>
/// Something the loop watches a file descriptor for. Called on the loop thread only; a handler
/// must not throw for bad input (count and drop instead). A throw is treated as a bug and kills
/// the worker, as mediasoup's worker dies on an unexpected error.
/// </summary>
internal interface IFdHandler
{
    /// <summary>The fd is readable (or in error, which the next read will report).</summary>
    void OnReadable();

    /// <summary>The fd is writable again after a send reported EAGAIN. Only called when write interest was requested.</summary>
    void OnWritable() { }
}
