using System.Buffers.Binary;

namespace Ferry.Protocols.Rtp;

// RFC 8285 header extension elements.
//
// One-byte form (§4.2), profile 0xBEDE:      Two-byte form (§4.3), profile 0x100 + appbits:
//  0 1 2 3 4 5 6 7                             0                   1
// +-+-+-+-+-+-+-+-+                           +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  ID   |  len  |  data (len+1 bytes)       |       ID      |     length    |  data (length bytes)
// +-+-+-+-+-+-+-+-+                           +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// A zero byte between elements is padding. In the one-byte form ID 15 ends the block.
public ref partial struct RtpPacket
{
    /// <summary>Largest extension block Ferry builds when adding an element (bytes of element data).</summary>
    public const int MaxExtensionBlock = 1024;

    /// <summary>How the header extension is encoded.</summary>
    public readonly RtpExtensionForm ExtensionForm
    {
        get
        {
            if (_extensionOffset < 0) return RtpExtensionForm.None;
            var profile = BinaryPrimitives.ReadUInt16BigEndian(_buffer[_extensionOffset..]);
            if (profile == 0xBEDE) return RtpExtensionForm.OneByte;
            return (profile & 0xFFF0) == 0x1000 ? RtpExtensionForm.TwoByte : RtpExtensionForm.Other;
        }
    }

    /// <summary>The extension "defined by profile" field, 0 when there is no extension.</summary>
    public readonly ushort ExtensionProfile => _extensionOffset < 0 ? (ushort)0 : BinaryPrimitives.ReadUInt16BigEndian(_buffer[_extensionOffset..]);

    private readonly Span<byte> ExtensionData => _extensionOffset < 0 ? default : _buffer.Slice(_extensionOffset + 4, _extensionLength);

    /// <summary>Iterates the extension elements (ids and values, values writable in place).</summary>
    public readonly RtpExtensionEnumerator Extensions => new(ExtensionData, ExtensionForm);

    /// <summary>Finds the element with <paramref name="id"/>; its value can be rewritten in place.</summary>
    public readonly bool TryGetExtension(int id, out Span<byte> value)
    {
        foreach (var element in Extensions)
        {
            if (element.Id == id)
            {
                value = element.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>
    /// Rewrites element ids through <paramref name="map"/> (map[oldId] = newId), as a router maps a
    /// producer's ids to its own. Elements mapped to 0, beyond the map, or to an id the form cannot
    /// hold (above 14 in the one-byte form) are blanked into padding, without moving any byte.
    /// </summary>
    /// <returns>How many elements were blanked.</returns>
    public readonly int RemapExtensionIds(ReadOnlySpan<byte> map)
    {
        var form = ExtensionForm;
        if (form is not (RtpExtensionForm.OneByte or RtpExtensionForm.TwoByte)) return 0;
        var blanked = 0;
        var data = ExtensionData;
        var e = new RtpExtensionEnumerator(data, form);
        while (e.MoveNext())
        {
            var element = e.Current;
            var newId = element.Id < map.Length ? map[element.Id] : 0;
            if (newId == 0 || (form == RtpExtensionForm.OneByte && newId > 14))
            {
                data.Slice(element.HeaderOffset, element.ElementLength).Clear();
                blanked++;
            }
            else if (form == RtpExtensionForm.OneByte)
            {
                data[element.HeaderOffset] = (byte)((newId << 4) | (data[element.HeaderOffset] & 0x0F));
            }
            else
            {
                data[element.HeaderOffset] = (byte)newId;
            }
        }
        return blanked;
    }

    /// <summary>Blanks the element with <paramref name="id"/> into padding. False when absent.</summary>
    public readonly bool RemoveExtension(int id)
    {
        var data = ExtensionData;
        var e = new RtpExtensionEnumerator(data, ExtensionForm);
        while (e.MoveNext())
        {
            if (e.Current.Id != id) continue;
            data.Slice(e.Current.HeaderOffset, e.Current.ElementLength).Clear();
            return true;
        }
        return false;
    }

    /// <summary>
    /// Sets the element <paramref name="id"/> to <paramref name="value"/>: in place when one of the
    /// same length exists; otherwise the extension block is rebuilt (one-byte form while every
    /// element fits it, else two-byte) and the payload moved, using the buffer's room after the packet.
    /// False (packet unchanged) when the buffer is too small or the id/length cannot be encoded.
    /// </summary>
    public bool TryAddOrReplaceExtension(int id, scoped ReadOnlySpan<byte> value)
    {
        if (id is < 1 or > 255 || value.Length > 255) return false;
        if (ExtensionForm == RtpExtensionForm.Other) return false;
        if (TryGetExtension(id, out var existing) && existing.Length == value.Length)
        {
            value.CopyTo(existing);
            return true;
        }

        // Decide the form: one-byte only if every element (old and new) fits it.
        var oneByte = id <= 14 && value.Length is >= 1 and <= 16;
        foreach (var element in Extensions)
        {
            if (element.Id == id) continue;
            if (element.Id > 14 || element.Value.Length is 0 or > 16) oneByte = false;
        }
        var needed = 0;
        foreach (var element in Extensions)
        {
            if (element.Id != id) needed += (oneByte ? 1 : 2) + element.Value.Length;
        }
        needed += (oneByte ? 1 : 2) + value.Length;
        if (needed > MaxExtensionBlock) return false;
        var newDataLength = (needed + 3) & ~3;

        var csrcEnd = FixedHeaderLength + 4 * CsrcCount;
        var oldBlock = _extensionOffset < 0 ? 0 : 4 + _extensionLength;
        var newBlock = 4 + newDataLength;
        var newLength = _length - oldBlock + newBlock;
        if (newLength > _buffer.Length) return false;

        // Build the new element list aside, then move the payload and copy it in.
        Span<byte> scratch = stackalloc byte[MaxExtensionBlock + 4];
        scratch[..newBlock].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(scratch, oneByte ? (ushort)0xBEDE : (ushort)0x1000);
        BinaryPrimitives.WriteUInt16BigEndian(scratch[2..], (ushort)(newDataLength / 4));
        var w = 4;
        foreach (var element in Extensions)
        {
            if (element.Id == id) continue;
            w += WriteElement(scratch[w..], oneByte, element.Id, element.Value);
        }
        WriteElement(scratch[w..], oneByte, id, value);

        var tail = _buffer[(csrcEnd + oldBlock).._length];
        tail.CopyTo(_buffer[(csrcEnd + newBlock)..]);
        scratch[..newBlock].CopyTo(_buffer[csrcEnd..]);
        _buffer[0] |= 0x10;
        _extensionOffset = csrcEnd;
        _extensionLength = newDataLength;
        _payloadOffset = csrcEnd + newBlock;
        _length = newLength;
        return true;
    }

    private static int WriteElement(Span<byte> destination, bool oneByte, int id, ReadOnlySpan<byte> value)
    {
        if (oneByte)
        {
            destination[0] = (byte)((id << 4) | (value.Length - 1));
            value.CopyTo(destination[1..]);
            return 1 + value.Length;
        }
        destination[0] = (byte)id;
        destination[1] = (byte)value.Length;
        value.CopyTo(destination[2..]);
        return 2 + value.Length;
    }
}

/// <summary>One header extension element.</summary>
public readonly ref struct RtpExtensionElement
{
    internal RtpExtensionElement(int id, Span<byte> value, int headerOffset, int elementLength)
    {
        Id = id;
        Value = value;
        HeaderOffset = headerOffset;
        ElementLength = elementLength;
    }

    /// <summary>The element id.</summary>
    public int Id { get; }

    /// <summary>The element data, writable in place.</summary>
    public Span<byte> Value { get; }

    internal int HeaderOffset { get; }
    internal int ElementLength { get; }
}

/// <summary>Walks the elements of an extension block; stops quietly at anything malformed.</summary>
public ref struct RtpExtensionEnumerator
{
    private readonly Span<byte> _data;
    private readonly RtpExtensionForm _form;
    private int _position;
    private RtpExtensionElement _current;

    internal RtpExtensionEnumerator(Span<byte> data, RtpExtensionForm form)
    {
        _data = form is RtpExtensionForm.OneByte or RtpExtensionForm.TwoByte ? data : default;
        _form = form;
        _position = 0;
        _current = default;
    }

    /// <summary>The current element.</summary>
    public readonly RtpExtensionElement Current => _current;

    /// <summary>Enables foreach.</summary>
    public readonly RtpExtensionEnumerator GetEnumerator() => this;

    /// <summary>Moves to the next element.</summary>
    public bool MoveNext()
    {
        while (_position < _data.Length && _data[_position] == 0) _position++;
        if (_position >= _data.Length) return false;
        var start = _position;
        int id, length, header;
        if (_form == RtpExtensionForm.OneByte)
        {
            id = _data[start] >> 4;
            if (id == 15) { _position = _data.Length; return false; }
            length = (_data[start] & 0x0F) + 1;
            header = 1;
        }
        else
        {
            if (start + 2 > _data.Length) { _position = _data.Length; return false; }
            id = _data[start];
            length = _data[start + 1];
            header = 2;
        }
        if (start + header + length > _data.Length) { _position = _data.Length; return false; }
        _current = new RtpExtensionElement(id, _data.Slice(start + header, length), start, header + length);
        _position = start + header + length;
        return true;
    }
}
