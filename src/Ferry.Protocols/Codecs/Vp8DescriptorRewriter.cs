namespace Ferry.Protocols.Codecs;

/// <summary>
/// Rewrites PictureID and TL0PICIDX of the VP8 packets a consumer forwards, in place, so that the
/// receiver sees one continuous sequence of values while the source changes (another simulcast
/// stream, a piped copy, the same producer after a move).
/// </summary>
/// <remarks>
/// Each source's values are unwrapped into a 15-bit (PictureID) or 8-bit (TL0PICIDX) space and shifted
/// by an offset chosen when the source changes, so that its first value follows the highest value sent
/// so far. A 7-bit PictureID field stays 7 bits and a 15-bit field stays 15 bits: the value written is
/// the shifted value truncated to the field's width, which keeps 7-bit streams continuous modulo 128.
/// The caller decides when to switch (normally at a key frame of the new source) and calls
/// <see cref="SwitchSource"/> before handing over its first packet. One instance per consumer stream;
/// not thread-safe, like everything on a worker's loop.
/// </remarks>
public sealed partial class Vp8DescriptorRewriter
{
    private WrappingCounterMapper _pictureId = new(0x7FFF);
    private WrappingCounterMapper _tl0 = new(0xFF);

    /// <summary>The next packet comes from a new source: its values will continue from the last ones sent.</summary>
    public void SwitchSource()
    {
        _pictureId.SwitchSource();
        _tl0.SwitchSource();
    }

    /// <summary>Highest PictureID written so far (15-bit space), or -1 before the first.</summary>
    public int LastPictureId => _pictureId.HasOutput ? _pictureId.MaxOutput : -1;

    /// <summary>Highest TL0PICIDX written so far, or -1 before the first.</summary>
    public int LastTl0PicIdx => _tl0.HasOutput ? _tl0.MaxOutput : -1;

    /// <summary>
    /// Rewrites the descriptor at the start of <paramref name="payload"/>. False (and the payload left
    /// unchanged) when the descriptor does not parse. Fields the packet does not carry are skipped.
    /// </summary>
    public bool TryRewrite(Span<byte> payload) => TryRewrite(payload, out _, out _);

    /// <summary>
    /// As <see cref="TryRewrite(Span{byte})"/>, and gives the values written (-1 for a field the packet
    /// does not carry), so a retransmission of the packet can carry the same ones.
    /// </summary>
    public bool TryRewrite(Span<byte> payload, out int pictureId, out int tl0PicIdx)
    {
        pictureId = tl0PicIdx = -1;
        if (!Vp8PayloadDescriptor.TryParse(payload, out var d)) return false;
        if (d.HasPictureId)
        {
            // A 7-bit source is unwrapped against its previous value so its wrap at 128 keeps counting up.
            pictureId = _pictureId.Map(d.PictureId, d.HasLongPictureId ? 0x7FFF : 0x7F);
            d.WritePictureId(payload, pictureId);
        }
        if (d.HasTl0PicIdx)
        {
            tl0PicIdx = _tl0.Map(d.Tl0PicIdx, 0xFF) & 0xFF;
            payload[d.Tl0PicIdxOffset] = (byte)tl0PicIdx;
        }
        return true;
    }

    /// <summary>
    /// A packet the forwarder deliberately does not send (a temporal layer above the one it forwards):
    /// its picture does not count, so the pictures sent after it stay consecutive. Further packets of the
    /// same picture change nothing. False when the descriptor does not parse.
    /// </summary>
    /// <remarks>Only pictures above temporal layer 0 are ever dropped, so TL0PICIDX needs no shift.</remarks>
    public bool Drop(ReadOnlySpan<byte> payload)
    {
        if (!Vp8PayloadDescriptor.TryParse(payload, out var d)) return false;
        if (d.HasPictureId) _pictureId.Drop(d.PictureId, d.HasLongPictureId ? 0x7FFF : 0x7F);
        return true;
    }
}
