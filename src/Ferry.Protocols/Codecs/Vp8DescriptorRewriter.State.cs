namespace Ferry.Protocols.Codecs;

public sealed partial class Vp8DescriptorRewriter
{
    /// <summary>The rewriter's state as plain integers (picture id mapping, then TL0PICIDX mapping), for a snapshot.</summary>
    public int[] ExportState()
    {
        var state = new int[2 * WrappingCounterMapper.StateLength];
        _pictureId.Export(state);
        _tl0.Export(state.AsSpan(WrappingCounterMapper.StateLength));
        return state;
    }

    /// <summary>Continues from a state <see cref="ExportState"/> gave (here or in another process).</summary>
    /// <exception cref="ArgumentException">Not a state of this rewriter.</exception>
    public void ImportState(ReadOnlySpan<int> state)
    {
        if (state.Length != 2 * WrappingCounterMapper.StateLength) throw new ArgumentException("not a VP8 rewriter state");
        _pictureId.Import(state[..WrappingCounterMapper.StateLength]);
        _tl0.Import(state[WrappingCounterMapper.StateLength..]);
    }
}
