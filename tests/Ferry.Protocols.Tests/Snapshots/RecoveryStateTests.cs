using Ferry.Protocols.Codecs;
using Ferry.Protocols.Recovery;

namespace Ferry.Protocols.Tests.Snapshots;

/// <summary>NACK, key frame request and VP8 rewriter state exported on one clock and imported on another behave the same.</summary>
public sealed class RecoveryStateTests
{
    [Fact]
    public void A_nack_generator_continues_on_another_clock()
    {
        var a = new NackGenerator();
        var t = TimeSpan.FromSeconds(100);
        a.ReceivePacket(65530, true, t);
        a.ReceivePacket(3, false, t); // 65531..2 missing, across the wrap
        var state = a.ExportState(t);
        var b = new NackGenerator();
        var u = TimeSpan.FromSeconds(7); // another process's clock
        b.ImportState(state, u);
        Assert.Equal(a.MissingCount, b.MissingCount);
        Assert.Equal(a.NextTimeout - t, b.NextTimeout - u);
        Span<ushort> na = stackalloc ushort[64], nb = stackalloc ushort[64];
        var ca = a.PollNacks(a.NextTimeout, na);
        var cb = b.PollNacks(b.NextTimeout, nb);
        Assert.Equal(na[..ca].ToArray(), nb[..cb].ToArray());
        Assert.Equal(a.NacksRequested, b.NacksRequested);
        Assert.Equal(NackReceiveResult.Recovered, b.ReceivePacket(0, false, u));
        Assert.Equal(NackReceiveResult.InOrder, b.ReceivePacket(4, false, u));
    }

    [Fact]
    public void Key_frame_requests_keep_their_windows_on_another_clock()
    {
        var a = new KeyFrameRequestManager(TimeSpan.FromMilliseconds(500));
        var t = TimeSpan.FromSeconds(50);
        a.KeyFrameNeeded(1, t);
        Span<uint> out1 = stackalloc uint[4];
        Assert.Equal(1, a.PollRequests(t, out1));
        a.KeyFrameNeeded(1, t + TimeSpan.FromMilliseconds(100)); // inside the delay window
        var b = new KeyFrameRequestManager(TimeSpan.FromMilliseconds(500));
        var u = TimeSpan.FromSeconds(3);
        b.ImportState(a.ExportState(t + TimeSpan.FromMilliseconds(100)), u);
        Assert.Equal(u + TimeSpan.FromMilliseconds(400), b.NextTimeout);
        Assert.Equal(0, b.PollRequests(u + TimeSpan.FromMilliseconds(399), out1));
        Assert.Equal(1, b.PollRequests(u + TimeSpan.FromMilliseconds(400), out1));
        Assert.Equal(1u, out1[0]);
    }

    [Fact]
    public void A_vp8_rewriter_continues_its_picture_ids()
    {
        static byte[] Packet(int pictureId) => [0x80, 0x80, (byte)(0x80 | (pictureId >> 8)), (byte)pictureId, 0x00];
        var a = new Vp8DescriptorRewriter();
        a.SwitchSource();
        var first = Packet(1000);
        a.TryRewrite(first, out var p0, out _);
        var b = new Vp8DescriptorRewriter();
        b.ImportState(a.ExportState());
        Assert.Equal(a.ExportState(), b.ExportState());
        b.TryRewrite(Packet(1001), out var p1, out _);
        Assert.Equal(p0 + 1, p1);
    }
}
