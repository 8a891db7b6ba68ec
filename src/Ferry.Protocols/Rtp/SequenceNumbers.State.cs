namespace Ferry.Protocols.Rtp;

public partial struct SequenceUnwrapper
{
    /// <summary>An unwrapper that continues from <paramref name="highest"/> (a value of <see cref="Highest"/>; -1: nothing seen yet).</summary>
    public static SequenceUnwrapper FromHighest(long highest) =>
        highest < 0 ? default : new SequenceUnwrapper { _highest = highest, _started = true };
}
