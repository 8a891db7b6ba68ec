using System.Buffers.Binary;
using System.Numerics;

namespace Ferry.Protocols.Codecs;

/// <summary>
/// What an SFU needs from an H.265 RTP payload (RFC 7798 §4.4): packetization, NAL unit types carried,
/// layer and temporal ids, and whether it starts a key frame.
/// <code>
///  NAL unit header / PayloadHdr:  |F|   Type    |  LayerId  | TID |   (16 bits, TID = TemporalId + 1)
///  Type 0-47 single NAL unit, 48 AP, 49 FU, 50 PACI
///  AP:  PayloadHdr, [DONL], then per unit: [DOND,] 16-bit size, NAL unit
///  FU:  PayloadHdr (type 49), FU header |S|E| FuType |, [DONL], fragment
/// </code>
/// DONL/DOND fields are only present when sprop-max-don-diff is above 0 (not in WebRTC): pass
/// <c>hasDonl: true</c> to <see cref="TryParse"/> for such a session.
/// </summary>
public readonly struct H265Payload
{
    /// <summary>First IRAP (intra random access point) NAL unit type: BLA_W_LP.</summary>
    public const int FirstIrap = 16;
    /// <summary>Last IRAP NAL unit type carrying a picture: CRA_NUT (22 and 23 are reserved).</summary>
    public const int LastIrap = 21;
    /// <summary>Video parameter set.</summary>
    public const int Vps = 32;
    /// <summary>Sequence parameter set.</summary>
    public const int Sps = 33;
    /// <summary>Picture parameter set.</summary>
    public const int Pps = 34;
    /// <summary>Aggregation packet.</summary>
    public const int AggregationPacket = 48;
    /// <summary>Fragmentation unit.</summary>
    public const int FragmentationUnit = 49;
    /// <summary>PACI packet.</summary>
    public const int Paci = 50;

    private H265Payload(NalPacketization packetization, int packetType, ulong nalTypes, int layerId, int temporalId,
        bool fragmentStart, bool fragmentEnd, int nalUnitCount)
    {
        Packetization = packetization;
        PacketType = packetType;
        NalTypes = nalTypes;
        LayerId = layerId;
        TemporalId = temporalId;
        IsFragmentStart = fragmentStart;
        IsFragmentEnd = fragmentEnd;
        NalUnitCount = nalUnitCount;
    }

    /// <summary>How the payload carries its NAL units.</summary>
    public NalPacketization Packetization { get; }

    /// <summary>Type field of the payload header: a NAL unit type, or 48-50.</summary>
    public int PacketType { get; }

    /// <summary>Bit n set when a NAL unit of type n is in the packet (for a fragment: the fragmented unit's type).</summary>
    public ulong NalTypes { get; }

    /// <summary>Whether a NAL unit of <paramref name="nalType"/> (0-63) is in the packet.</summary>
    public bool Contains(int nalType) => (uint)nalType < 64 && (NalTypes & 1ul << nalType) != 0;

    /// <summary>nuh_layer_id of the payload header (the lowest of an aggregation).</summary>
    public int LayerId { get; }

    /// <summary>TemporalId (TID - 1) of the payload header (the lowest of an aggregation).</summary>
    public int TemporalId { get; }

    /// <summary>Number of whole NAL units (0 for a fragment or PACI).</summary>
    public int NalUnitCount { get; }

    /// <summary>S bit of a fragment.</summary>
    public bool IsFragmentStart { get; }

    /// <summary>E bit of a fragment.</summary>
    public bool IsFragmentEnd { get; }

    /// <summary>NAL type of the fragmented unit, or -1 when not a fragment.</summary>
    public int FragmentNalType => Packetization == NalPacketization.Fragmentation ? BitOperations.Log2(NalTypes) : -1;

    /// <summary>
    /// The packet can start decoding: it holds an IRAP picture's NAL unit (types 16-21: BLA, IDR, CRA) or a
    /// parameter set (VPS, SPS, PPS: 32-34), which encoders send right before an IRAP picture. A fragment
    /// counts only when it is the start fragment.
    /// </summary>
    public bool IsKeyFrame
    {
        get
        {
            const ulong irap = 0x3Ful << FirstIrap;
            const ulong parameterSets = 0x7ul << Vps;
            if ((NalTypes & (irap | parameterSets)) == 0) return false;
            return Packetization != NalPacketization.Fragmentation || IsFragmentStart;
        }
    }

    /// <summary>
    /// Reads the payload. False when shorter than its headers, when TID is 0 (forbidden), or when an
    /// aggregation unit runs past the end.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out H265Payload result, bool hasDonl = false)
    {
        result = default;
        if (payload.Length < 2) return false;
        var type = (payload[0] >> 1) & 0x3F;
        var layerId = (payload[0] & 0x01) << 5 | payload[1] >> 3;
        var tid = payload[1] & 0x07;
        if (tid == 0) return false;
        switch (type)
        {
            case AggregationPacket:
            {
                var offset = 2;
                var types = 0ul;
                var count = 0;
                while (offset < payload.Length)
                {
                    // DONL before the first unit, DOND before each later one.
                    if (hasDonl) offset += count == 0 ? 2 : 1;
                    if (offset + 2 > payload.Length) return false;
                    var size = BinaryPrimitives.ReadUInt16BigEndian(payload[offset..]);
                    offset += 2;
                    if (size < 2 || size > payload.Length - offset) return false;
                    types |= 1ul << ((payload[offset] >> 1) & 0x3F);
                    count++;
                    offset += size;
                }
                if (count == 0) return false;
                result = new H265Payload(NalPacketization.Aggregation, type, types, layerId, tid - 1, false, false, count);
                return true;
            }

            case FragmentationUnit:
            {
                if (payload.Length < (hasDonl ? 5 : 3)) return false;
                var fu = payload[2];
                result = new H265Payload(NalPacketization.Fragmentation, type, 1ul << (fu & 0x3F), layerId, tid - 1,
                    (fu & 0x80) != 0, (fu & 0x40) != 0, 0);
                return true;
            }

            case Paci:
                result = new H265Payload(NalPacketization.Other, type, 0, layerId, tid - 1, false, false, 0);
                return true;

            case > Paci:
                return false;

            default:
                result = new H265Payload(NalPacketization.SingleNal, type, 1ul << type, layerId, tid - 1, false, false, 1);
                return true;
        }
    }
}
