using Ferry.Protocols.Recovery;

namespace Ferry.Protocols.Tests.Recovery;

public class KeyFrameRequestManagerTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    private static uint[] Poll(KeyFrameRequestManager m, TimeSpan now)
    {
        Span<uint> buffer = stackalloc uint[8];
        return buffer[..m.PollRequests(now, buffer)].ToArray();
    }

    [Fact]
    public void Many_asks_while_a_request_is_pending_become_one_request_and_one_retry()
    {
        var m = new KeyFrameRequestManager();
        m.KeyFrameNeeded(1111, Ms(0));
        Assert.Equal(TimeSpan.Zero, m.NextTimeout);
        Assert.Equal(new uint[] { 1111 }, Poll(m, Ms(0)));
        for (var i = 1; i < 50; i++) m.KeyFrameNeeded(1111, Ms(i * 10));
        Assert.Empty(Poll(m, Ms(500)));
        Assert.Equal(Ms(1000), m.NextTimeout);
        Assert.Equal(new uint[] { 1111 }, Poll(m, Ms(1000)));   // the key frame never came: one retry
        Assert.Empty(Poll(m, Ms(2000)));                        // nobody asked again: no further retry
        Assert.Equal(2, m.RequestsSent);
        Assert.Equal(49, m.RequestsCoalesced);
    }

    [Fact]
    public void A_received_key_frame_cancels_the_retry()
    {
        var m = new KeyFrameRequestManager();
        m.KeyFrameNeeded(7, Ms(0));
        Poll(m, Ms(0));
        m.KeyFrameNeeded(7, Ms(100));
        m.KeyFrameReceived(7);
        Assert.Empty(Poll(m, Ms(1000)));
        m.KeyFrameNeeded(7, Ms(1200));
        Assert.Equal(new uint[] { 7 }, Poll(m, Ms(1200)));
    }

    [Fact]
    public void A_request_delay_folds_asks_into_one_request_at_the_end_of_the_window()
    {
        var m = new KeyFrameRequestManager(requestDelay: Ms(300));
        m.KeyFrameNeeded(5, Ms(0));
        Assert.Equal(new uint[] { 5 }, Poll(m, Ms(0)));
        m.KeyFrameReceived(5);
        m.KeyFrameNeeded(5, Ms(50));
        m.KeyFrameNeeded(5, Ms(100));
        Assert.Equal(Ms(300), m.NextTimeout);
        Assert.Empty(Poll(m, Ms(299)));
        Assert.Equal(new uint[] { 5 }, Poll(m, Ms(300)));
    }

    [Fact]
    public void Streams_are_independent_and_removable()
    {
        var m = new KeyFrameRequestManager();
        m.KeyFrameNeeded(1, Ms(0));
        m.KeyFrameNeeded(2, Ms(0));
        Assert.Equal(new uint[] { 1, 2 }, Poll(m, Ms(0)));
        m.RemoveStream(1);
        m.KeyFrameNeeded(2, Ms(10));
        Assert.Equal(new uint[] { 2 }, Poll(m, Ms(1000)));
    }
}
