using Ferry.Mobility.Remote;

namespace Ferry.Fuzz;

/// <summary>The targets over Ferry (run.sh instruments Ferry.dll for them).</summary>
internal static class EngineTargets
{
    public static readonly IReadOnlyList<NamedTarget> All =
    [
        new("relayframe", RelayFrameTarget),
    ];

    /// <summary>The move relay's frame header (Mobility/Remote/RelayFrame.cs) as both ends read it: one datagram of the relay socket.</summary>
    private static void RelayFrameTarget(ReadOnlySpan<byte> input)
    {
        // The token both ends agreed on; the seeds carry it, the fuzzer may change it.
        const uint token = 0x0BADCAFE;
        if (!RelayFrame.TryRead(input, token, out var kind, out var farEnd, out var payloadOffset)) return;
        if (payloadOffset != RelayFrame.HeaderLength || payloadOffset > input.Length) throw new FuzzInvariantException($"payload at {payloadOffset} of {input.Length}");
        _ = farEnd.Port;
        _ = farEnd.IsIPv4;
        _ = farEnd.ToString();
        Span<byte> header = stackalloc byte[RelayFrame.HeaderLength];
        RelayFrame.WriteHeader(header, kind, token, farEnd);
        if (!header.SequenceEqual(input[..RelayFrame.HeaderLength])) throw new FuzzInvariantException("a relay frame header does not write back to its bytes");
    }
}
