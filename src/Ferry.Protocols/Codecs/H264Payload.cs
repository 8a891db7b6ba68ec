using System.Buffers.Binary;
using System.Numerics;

namespace Ferry.Protocols.Codecs;

/// <summary>How an RTP payload of H.264 or H.265 carries its NAL units.</summary>
public enum NalPacketization : byte
{
    /// <summary>One whole NAL unit.</summary>
    SingleNal,
    /// <summary>Several NAL units with 16-bit size prefixes: H.264 STAP-A/STAP-B, H.265 AP.</summary>
    Aggregation,
    /// <summary>H.264 MTAP16/MTAP24 (interleaved mode only): recognised, its units not read.</summary>
    MultiTimeAggregation,
    /// <summary>One fragment of a NAL unit: H.264 FU-A/FU-B, H.265 FU.</summary>
    Fragmentation,
    /// <summary>A packet type this reader does not look into (H.265 PACI).</summary>
    Other,
}

/// <summary>
/// What an SFU needs from an H.264 RTP payload (RFC 6184 §5): how it is packetized, which NAL unit
/// types it carries and whether it starts a key frame.
/// <code>
///  NAL unit header:  |F|NRI|  Type   |   Type 1-23 single NAL unit, 24 STAP-A, 25 STAP-B,
///                                         26 MTAP16, 27 MTAP24, 28 FU-A, 29 FU-B
///  STAP-A:  header, then per unit: 16-bit size, NAL unit
///  FU-A:    FU indicator (a NAL header, type 28), FU header |S|E|R| Type |
/// </code>
/// </summary>
public readonly struct H264Payload
{
    /// <summary>NAL unit type of a coded slice of an IDR picture.</summary>
    public const int IdrSlice = 5;
    /// <summary>NAL unit type of a sequence parameter set.</summary>
    public const int Sps = 7;
    /// <summary>NAL unit type of a picture parameter set.</summary>
    public const int Pps = 8;

    private H264Payload(NalPacketization packetization, int packetType, uint nalTypes, bool fragmentStart,
        bool fragmentEnd, int nalUnitCount)
    {
        Packetization = packetization;
        PacketType = packetType;
        NalTypes = nalTypes;
        IsFragmentStart = fragmentStart;
        IsFragmentEnd = fragmentEnd;
        NalUnitCount = nalUnitCount;
    }

    /// <summary>How the payload carries its NAL units.</summary>
    public NalPacketization Packetization { get; }

    /// <summary>Type field of the payload's first byte: the NAL type of a single NAL unit, else 24-29.</summary>
    public int PacketType { get; }

    /// <summary>
    /// Bit n set when a NAL unit of type n is in the packet: the unit itself, every unit of an
    /// aggregation, or the fragmented unit's type for every fragment.
    /// </summary>
    public uint NalTypes { get; }

    /// <summary>Whether a NAL unit of <paramref name="nalType"/> (0-31) is in the packet.</summary>
    public bool Contains(int nalType) => (uint)nalType < 32 && (NalTypes & 1u << nalType) != 0;

    /// <summary>Number of whole NAL units (0 for a fragment).</summary>
    public int NalUnitCount { get; }

    /// <summary>S bit of a fragment: the fragment starts its NAL unit.</summary>
    public bool IsFragmentStart { get; }

    /// <summary>E bit of a fragment: the fragment ends its NAL unit.</summary>
    public bool IsFragmentEnd { get; }

    /// <summary>NAL type of the fragmented unit, or -1 when not a fragment.</summary>
    public int FragmentNalType => Packetization == NalPacketization.Fragmentation ? BitOperations.Log2(NalTypes) : -1;

    /// <summary>
    /// The packet can start decoding: it holds an IDR slice (type 5) or an SPS (type 7), as a whole unit or
    /// in an aggregation. A fragment counts only when it is the start fragment (S=1), since only that one
    /// begins the NAL unit.
    /// </summary>
    public bool IsKeyFrame
    {
        get
        {
            const uint keyTypes = 1u << IdrSlice | 1u << Sps;
            if ((NalTypes & keyTypes) == 0) return false;
            return Packetization != NalPacketization.Fragmentation || IsFragmentStart;
        }
    }

    /// <summary>Reads the payload. False when empty, of an undefined type (0, 30, 31), or truncated.</summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out H264Payload result)
    {
        result = default;
        if (payload.IsEmpty) return false;
        var type = payload[0] & 0x1F;
        switch (type)
        {
            case >= 1 and <= 23:
                result = new H264Payload(NalPacketization.SingleNal, type, 1u << type, false, false, 1);
                return true;

            case 24 or 25:
            {
                // STAP-B carries a 16-bit decoding order number before the units.
                var offset = type == 24 ? 1 : 3;
                if (!TryReadUnits(payload, offset, out var types, out var count)) return false;
                result = new H264Payload(NalPacketization.Aggregation, type, types, false, false, count);
                return true;
            }

            case 26 or 27:
                // MTAP16/MTAP24 belong to the interleaved mode, which WebRTC never negotiates: reported, not looked into.
                result = new H264Payload(NalPacketization.MultiTimeAggregation, type, 0, false, false, 0);
                return true;

            case 28 or 29:
            {
                if (payload.Length < 2) return false;
                // FU-B adds a 16-bit decoding order number after the FU header.
                if (type == 29 && payload.Length < 4) return false;
                var fu = payload[1];
                var nalType = fu & 0x1F;
                result = new H264Payload(NalPacketization.Fragmentation, type, 1u << nalType, (fu & 0x80) != 0,
                    (fu & 0x40) != 0, 0);
                return true;
            }

            default:
                return false;
        }
    }

    // Walks 16-bit-size-prefixed units from offset to the end; a unit running past the end fails the packet.
    private static bool TryReadUnits(ReadOnlySpan<byte> payload, int offset, out uint types, out int count)
    {
        types = 0;
        count = 0;
        if (offset >= payload.Length) return false;
        while (offset < payload.Length)
        {
            if (offset + 2 > payload.Length) return false;
            var size = BinaryPrimitives.ReadUInt16BigEndian(payload[offset..]);
            offset += 2;
            if (size == 0 || size > payload.Length - offset) return false;
            types |= 1u << (payload[offset] & 0x1F);
            count++;
            offset += size;
        }
        return true;
    }
}
