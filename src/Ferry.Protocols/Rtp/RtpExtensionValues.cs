using System.Buffers.Binary;

namespace Ferry.Protocols.Rtp;

/// <summary>Readers and writers of the header extension values an SFU reads or rewrites.</summary>
public static class RtpExtensionValues
{
    /// <summary>Reads abs-send-time: 24 bits, 6.18 fixed-point seconds. False when the value is not 3 bytes.</summary>
    public static bool TryReadAbsSendTime(ReadOnlySpan<byte> value, out uint absSendTime24)
    {
        absSendTime24 = 0;
        if (value.Length != 3) return false;
        absSendTime24 = (uint)(value[0] << 16 | value[1] << 8 | value[2]);
        return true;
    }

    /// <summary>Encodes <paramref name="time"/> as abs-send-time (seconds modulo 64 in 6.18 fixed point).</summary>
    public static uint ToAbsSendTime(TimeSpan time) =>
        (uint)(((ulong)time.Ticks << 18) / TimeSpan.TicksPerSecond) & 0x00FFFFFF;

    /// <summary>Writes a 24-bit abs-send-time into a 3-byte value.</summary>
    public static bool TryWriteAbsSendTime(Span<byte> value, uint absSendTime24)
    {
        if (value.Length != 3) return false;
        value[0] = (byte)(absSendTime24 >> 16);
        value[1] = (byte)(absSendTime24 >> 8);
        value[2] = (byte)absSendTime24;
        return true;
    }

    /// <summary>Reads the transport-wide sequence number (2 bytes).</summary>
    public static bool TryReadTransportWideSequence(ReadOnlySpan<byte> value, out ushort sequence)
    {
        sequence = 0;
        if (value.Length < 2) return false;
        sequence = BinaryPrimitives.ReadUInt16BigEndian(value);
        return true;
    }

    /// <summary>Writes the transport-wide sequence number into a 2-byte value.</summary>
    public static bool TryWriteTransportWideSequence(Span<byte> value, ushort sequence)
    {
        if (value.Length < 2) return false;
        BinaryPrimitives.WriteUInt16BigEndian(value, sequence);
        return true;
    }

    /// <summary>
    /// Reads ssrc-audio-level (RFC 6464 §3): V bit (voice activity) and level in -dBov, 0 (loudest) to 127 (silence).
    /// </summary>
    public static bool TryReadAudioLevel(ReadOnlySpan<byte> value, out bool voice, out byte level)
    {
        voice = false;
        level = 0;
        if (value.Length < 1) return false;
        voice = (value[0] & 0x80) != 0;
        level = (byte)(value[0] & 0x7F);
        return true;
    }

    /// <summary>Reads video orientation (3GPP TS 26.114 §7.4.5): camera, flip and rotation in degrees.</summary>
    public static bool TryReadVideoOrientation(ReadOnlySpan<byte> value, out bool camera, out bool flip, out int rotationDegrees)
    {
        camera = flip = false;
        rotationDegrees = 0;
        if (value.Length < 1) return false;
        camera = (value[0] & 0x08) != 0;
        flip = (value[0] & 0x04) != 0;
        rotationDegrees = (value[0] & 0x03) * 90;
        return true;
    }

    /// <summary>Reads abs-capture-time: 64-bit NTP capture timestamp, then optionally a 64-bit signed clock offset.</summary>
    public static bool TryReadAbsCaptureTime(ReadOnlySpan<byte> value, out ulong ntpTimestamp, out long? estimatedClockOffset)
    {
        ntpTimestamp = 0;
        estimatedClockOffset = null;
        if (value.Length != 8 && value.Length != 16) return false;
        ntpTimestamp = BinaryPrimitives.ReadUInt64BigEndian(value);
        if (value.Length == 16) estimatedClockOffset = BinaryPrimitives.ReadInt64BigEndian(value[8..]);
        return true;
    }

    /// <summary>
    /// Checks a mid/rid/repaired-rid value: 1-16 bytes of RFC 8852 §3.1 characters (alphanumeric,
    /// '-' and '_'); compare it with <see cref="System.Text.Ascii"/> helpers without allocating.
    /// </summary>
    public static bool IsValidStreamId(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty || value.Length > 16) return false;
        foreach (var b in value)
        {
            if (!(b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9') or (byte)'-' or (byte)'_'))
                return false;
        }
        return true;
    }
}
