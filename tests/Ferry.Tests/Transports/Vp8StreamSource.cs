namespace Ferry.Tests.Transports;

/// <summary>
/// One VP8 simulcast stream as an L1T3 encoder sends it, a packet per frame: temporal pattern 0,2,1,2
/// (restarting at each key frame), PictureID +1 per frame (15 bits), TL0PICIDX +1 per layer-0 frame.
/// Each frame carries a number: the stream's base plus its index, so a receiver can tell where it came from.
/// </summary>
internal sealed class Vp8StreamSource(uint ssrc, ushort firstSeq, int firstPictureId, byte firstTl0, int numberBase)
{
    private static readonly int[] Pattern = [0, 2, 1, 2];
    private ushort _seq = firstSeq;
    private int _pictureId = firstPictureId;
    private byte _tl0 = (byte)(firstTl0 - 1);
    private int _index;
    private int _frame;

    public uint Ssrc => ssrc;

    /// <summary>The next frame: a key frame (temporal layer 0) when asked; the Y bit set when its layer is <paramref name="syncLayer"/>.</summary>
    public (byte[] Packet, int Tid, int Number) Next(bool keyFrame = false, int syncLayer = -1)
    {
        if (keyFrame) _index = 0;
        var tid = Pattern[_index++ % Pattern.Length];
        if (tid == 0) _tl0++;
        var number = numberBase + _frame;
        var packet = MediaFixtures.Vp8FramePacket(ssrc, _seq++, (uint)(_frame * 3000), keyFrame, tid, tid == syncLayer, _pictureId, _tl0, number);
        _pictureId = (_pictureId + 1) & 0x7FFF;
        _frame++;
        return (packet, tid, number);
    }
}
