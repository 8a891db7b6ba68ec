using System.Buffers.Binary;

namespace Ferry.Protocols.Rtp;

// RFC 4588 §4: an RTX packet carries the original sequence number (OSN) in the first two bytes
// of its payload, then the original payload, under the RTX stream's SSRC, payload type and
// sequence number.
public ref partial struct RtpPacket
{
    /// <summary>
    /// Turns this packet into its RTX form in place: the OSN is inserted before the payload and the
    /// header takes the RTX payload type, SSRC and sequence number. Padding is dropped (it was only
    /// there for the original's encryption or pacing). False when the buffer has no room for 2 bytes.
    /// </summary>
    public bool TryEncodeRtx(byte rtxPayloadType, uint rtxSsrc, ushort rtxSequenceNumber)
    {
        if (_length - _paddingLength + 2 > _buffer.Length) return false;
        RemovePadding();
        var osn = SequenceNumber;
        _buffer[_payloadOffset.._length].CopyTo(_buffer[(_payloadOffset + 2)..]);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[_payloadOffset..], osn);
        _length += 2;
        PayloadType = rtxPayloadType;
        Ssrc = rtxSsrc;
        SequenceNumber = rtxSequenceNumber;
        return true;
    }

    /// <summary>
    /// Turns an RTX packet back into the original in place: the OSN becomes the sequence number and
    /// is removed from the payload. False (packet unchanged) when the payload is shorter than 2 bytes.
    /// </summary>
    public bool TryDecodeRtx(byte originalPayloadType, uint originalSsrc)
    {
        if (PayloadLength < 2) return false;
        var osn = BinaryPrimitives.ReadUInt16BigEndian(_buffer[_payloadOffset..]);
        _buffer[(_payloadOffset + 2).._length].CopyTo(_buffer[_payloadOffset..]);
        _length -= 2;
        PayloadType = originalPayloadType;
        Ssrc = originalSsrc;
        SequenceNumber = osn;
        return true;
    }
}
