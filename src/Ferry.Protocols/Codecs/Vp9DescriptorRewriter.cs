namespace Ferry.Protocols.Codecs;

/// <summary>
/// Rewrites the picture ID and TL0PICIDX of forwarded VP9 packets in place so the receiver sees
/// continuous values across source changes; the same rules as <see cref="Vp8DescriptorRewriter"/>
/// (field widths kept, call <see cref="SwitchSource"/> before the new source's first packet).
/// Spatial layers of one picture share its picture ID, so they keep sharing the rewritten one; flexible
/// mode's P_DIFFs are differences of picture IDs and stay valid under the shift.
/// </summary>
public sealed partial class Vp9DescriptorRewriter
{
    private WrappingCounterMapper _pictureId = new(0x7FFF);
    private WrappingCounterMapper _tl0 = new(0xFF);

    /// <summary>The next packet comes from a new source: its values will continue from the last ones sent.</summary>
    public void SwitchSource()
    {
        _pictureId.SwitchSource();
        _tl0.SwitchSource();
    }

    /// <summary>Highest picture ID written so far (15-bit space), or -1 before the first.</summary>
    public int LastPictureId => _pictureId.HasOutput ? _pictureId.MaxOutput : -1;

    /// <summary>Highest TL0PICIDX written so far, or -1 before the first.</summary>
    public int LastTl0PicIdx => _tl0.HasOutput ? _tl0.MaxOutput : -1;

    /// <summary>
    /// Rewrites the descriptor at the start of <paramref name="payload"/>. False (payload unchanged) when it does
    /// not parse. Fields the packet does not carry are skipped.
    /// </summary>
    public bool TryRewrite(Span<byte> payload) => TryRewrite(payload, out _, out _);

    /// <summary>
    /// As <see cref="TryRewrite(Span{byte})"/>, and gives the values written (-1 for a field the packet
    /// does not carry), so a retransmission of the packet can carry the same ones.
    /// </summary>
    public bool TryRewrite(Span<byte> payload, out int pictureId, out int tl0PicIdx)
    {
        pictureId = tl0PicIdx = -1;
        if (!Vp9PayloadDescriptor.TryParse(payload, out var d)) return false;
        var hasPictureId = d.HasPictureId;
        var longField = d.HasLongPictureId;
        var rawPictureId = d.PictureId;
        var tl0Offset = d.Tl0PicIdxOffset;
        var tl0 = d.Tl0PicIdx;
        if (hasPictureId)
        {
            pictureId = _pictureId.Map(rawPictureId, longField ? 0x7FFF : 0x7F);
            Vp9PayloadDescriptor.WritePictureId(payload, longField, pictureId);
        }
        if (tl0Offset >= 0)
        {
            tl0PicIdx = _tl0.Map(tl0, 0xFF) & 0xFF;
            payload[tl0Offset] = (byte)tl0PicIdx;
        }
        return true;
    }

    /// <summary>
    /// A packet deliberately not sent (a temporal layer above the one forwarded): its picture does not
    /// count, so later pictures stay consecutive. False when the descriptor does not parse.
    /// </summary>
    public bool Drop(ReadOnlySpan<byte> payload)
    {
        if (!Vp9PayloadDescriptor.TryParse(payload, out var d)) return false;
        if (d.HasPictureId) _pictureId.Drop(d.PictureId, d.HasLongPictureId ? 0x7FFF : 0x7F);
        return true;
    }
}
