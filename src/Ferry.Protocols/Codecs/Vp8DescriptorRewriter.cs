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
public sealed class Vp8DescriptorRewriter
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
    public bool TryRewrite(Span<byte> payload)
    {
        if (!Vp8PayloadDescriptor.TryParse(payload, out var d)) return false;
        if (d.HasPictureId)
        {
            // A 7-bit source is unwrapped against its previous value so its wrap at 128 keeps counting up.
            var output = _pictureId.Map(d.PictureId, d.HasLongPictureId ? 0x7FFF : 0x7F);
            d.WritePictureId(payload, output);
        }
        if (d.HasTl0PicIdx)
        {
            payload[d.Tl0PicIdxOffset] = (byte)_tl0.Map(d.Tl0PicIdx, 0xFF);
        }
        return true;
    }
}
