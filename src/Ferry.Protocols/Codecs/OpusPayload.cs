namespace Ferry.Protocols.Codecs;

/// <summary>Coding mode of an Opus configuration (RFC 6716 §3.1).</summary>
public enum OpusMode : byte
{
    /// <summary>SILK only (configurations 0-11).</summary>
    Silk,
    /// <summary>SILK and CELT together (12-15).</summary>
    Hybrid,
    /// <summary>CELT only (16-31).</summary>
    Celt,
}

/// <summary>Audio bandwidth of an Opus configuration (RFC 6716 Table 1).</summary>
public enum OpusBandwidth : byte
{
    /// <summary>Narrowband, 4 kHz.</summary>
    Narrowband,
    /// <summary>Medium-band, 6 kHz.</summary>
    Mediumband,
    /// <summary>Wideband, 8 kHz.</summary>
    Wideband,
    /// <summary>Super-wideband, 12 kHz.</summary>
    SuperWideband,
    /// <summary>Fullband, 20 kHz.</summary>
    Fullband,
}

/// <summary>
/// The TOC byte that starts every Opus packet (RFC 6716 §3.1), and the frame count it implies.
/// <code>
///  0 1 2 3 4 5 6 7
/// +-+-+-+-+-+-+-+-+
/// | config  |s| c |   config: mode, bandwidth, frame size; s: stereo; c: frame count code
/// +-+-+-+-+-+-+-+-+
///                     c=3 only: |v|p|     M     |  (VBR, padding, frame count 1-48)
/// </code>
/// </summary>
public readonly struct OpusPayload
{
    /// <summary>
    /// Longest payload treated as DTX. Opus has no DTX flag: while silent, a DTX encoder sends a packet of
    /// at most 2 bytes now and then (libopus emits a TOC byte alone, or TOC and one byte), and a 1-byte
    /// code 0 packet is by RFC 6716 §3.2.1 a zero-length frame the decoder fills by concealment or comfort
    /// noise. So "payload length &lt;= 2" is the test in common use, and the one used here.
    /// </summary>
    public const int MaxDtxPayloadLength = 2;

    /// <summary>Longest audio one Opus packet may hold, in microseconds (RFC 6716 §3.2.5).</summary>
    public const int MaxPacketDurationMicroseconds = 120_000;

    private OpusPayload(byte toc, int frameCount, int length)
    {
        Toc = toc;
        FrameCount = frameCount;
        Length = length;
    }

    /// <summary>The TOC byte.</summary>
    public byte Toc { get; }

    /// <summary>Payload length in bytes.</summary>
    public int Length { get; }

    /// <summary>Configuration number (0-31).</summary>
    public int Config => Toc >> 3;

    /// <summary>s: stereo.</summary>
    public bool IsStereo => (Toc & 0x04) != 0;

    /// <summary>c: frame count code (0: one frame, 1: two equal, 2: two different, 3: arbitrary count).</summary>
    public int FrameCountCode => Toc & 0x03;

    /// <summary>Number of frames in the packet.</summary>
    public int FrameCount { get; }

    /// <summary>Coding mode of the configuration.</summary>
    public OpusMode Mode => Config switch { < 12 => OpusMode.Silk, < 16 => OpusMode.Hybrid, _ => OpusMode.Celt };

    /// <summary>Audio bandwidth of the configuration.</summary>
    public OpusBandwidth Bandwidth => Config switch
    {
        < 4 => OpusBandwidth.Narrowband,
        < 8 => OpusBandwidth.Mediumband,
        < 12 => OpusBandwidth.Wideband,
        < 14 => OpusBandwidth.SuperWideband,
        < 16 => OpusBandwidth.Fullband,
        < 20 => OpusBandwidth.Narrowband,
        < 24 => OpusBandwidth.Wideband,
        < 28 => OpusBandwidth.SuperWideband,
        _ => OpusBandwidth.Fullband,
    };

    /// <summary>Duration of one frame in microseconds: 2500, 5000, 10000, 20000, 40000 or 60000.</summary>
    public int FrameDurationMicroseconds => GetFrameDurationMicroseconds(Config);

    /// <summary>Samples in one frame at Opus's 48 kHz reference rate.</summary>
    public int SamplesPerFrame => FrameDurationMicroseconds * 48 / 1000;

    /// <summary>Duration of the whole packet in microseconds.</summary>
    public int DurationMicroseconds => FrameCount * FrameDurationMicroseconds;

    /// <summary>Samples of the whole packet at 48 kHz.</summary>
    public int Samples => FrameCount * SamplesPerFrame;

    /// <summary>The packet is DTX by the length rule of <see cref="MaxDtxPayloadLength"/>.</summary>
    public bool IsDtx => Length <= MaxDtxPayloadLength;

    /// <summary>Whether a payload is DTX (comfort noise) by the length rule of <see cref="MaxDtxPayloadLength"/>.</summary>
    public static bool IsDtxPayload(ReadOnlySpan<byte> payload) => payload.Length <= MaxDtxPayloadLength;

    /// <summary>Frame duration of a configuration (0-31) in microseconds (RFC 6716 Table 2).</summary>
    public static int GetFrameDurationMicroseconds(int config)
    {
        if ((uint)config > 31) return 0;
        if (config < 12) return (config & 3) switch { 0 => 10_000, 1 => 20_000, 2 => 40_000, _ => 60_000 };
        if (config < 16) return (config & 1) == 0 ? 10_000 : 20_000;
        return (config & 3) switch { 0 => 2_500, 1 => 5_000, 2 => 10_000, _ => 20_000 };
    }

    /// <summary>
    /// Reads the TOC byte and frame count. False for an empty payload and for the framing errors a
    /// length check can see (RFC 6716 §3.4 R2-R7 as far as they do not need the frame sizes of code 3):
    /// code 1 with an odd data length, code 2 with its first frame size past the end, code 3 without its
    /// count byte, with a count of 0, or over 120 ms.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out OpusPayload result)
    {
        result = default;
        if (payload.IsEmpty) return false;
        var toc = payload[0];
        int frames;
        switch (toc & 0x03)
        {
            case 0:
                frames = 1;
                break;
            case 1:
                // Two frames of equal size: the data after the TOC must split in two.
                if ((payload.Length - 1) % 2 != 0) return false;
                frames = 2;
                break;
            case 2:
            {
                // The first frame's size, in one byte (below 252) or two (size = 4 * second + first).
                if (payload.Length < 2) return false;
                int size, sizeBytes;
                if (payload[1] < 252)
                {
                    size = payload[1];
                    sizeBytes = 1;
                }
                else
                {
                    if (payload.Length < 3) return false;
                    size = payload[2] * 4 + payload[1];
                    sizeBytes = 2;
                }
                if (1 + sizeBytes + size > payload.Length) return false;
                frames = 2;
                break;
            }
            default:
                if (payload.Length < 2) return false;
                frames = payload[1] & 0x3F;
                if (frames == 0 || frames * GetFrameDurationMicroseconds(toc >> 3) > MaxPacketDurationMicroseconds)
                    return false;
                break;
        }
        result = new OpusPayload(toc, frames, payload.Length);
        return true;
    }
}
