using Ferry.Protocols.Rtp;

namespace Ferry.Protocols.Tests.Rtp;

public class SequenceTests
{
    [Theory]
    [InlineData(1, 0, true)]
    [InlineData(0, 65535, true)]
    [InlineData(65535, 0, false)]
    [InlineData(32767, 0, true)]
    [InlineData(32768, 0, false)]
    [InlineData(5, 5, false)]
    public void IsNewer_follows_serial_arithmetic(int a, int b, bool newer) => Assert.Equal(newer, SeqNum.IsNewer((ushort)a, (ushort)b));

    [Fact]
    public void Timestamps_compare_across_the_wrap()
    {
        Assert.True(SeqNum.IsNewerTimestamp(10, 0xFFFFFFF0));
        Assert.False(SeqNum.IsNewerTimestamp(0xFFFFFFF0, 10));
    }

    [Fact]
    public void Unwrapper_extends_across_wraps_and_reordering()
    {
        var u = new SequenceUnwrapper();
        Assert.Equal(-1, u.Highest);
        var first = u.Unwrap(65534);
        Assert.Equal(first + 1, u.Unwrap(65535));
        Assert.Equal(first + 2, u.Unwrap(0));
        Assert.Equal(first + 1, u.Unwrap(65535));      // reordered: behind, highest unchanged
        Assert.Equal(first + 2, u.Highest);
        Assert.Equal(first + 5, u.Unwrap(3));
        Assert.Equal(first - 2, u.Unwrap(65532));      // early reordering stays in range
        // Walk many cycles forward.
        long last = u.Highest;
        for (var i = 0; i < 300_000; i += 1000) last = u.Unwrap((ushort)(3 + i + 1000));
        Assert.Equal(first + 5 + 300_000, last);
    }
}
