using Ferry.Protocols.Srtp;

namespace Ferry.Fuzz;

/// <summary>
/// SRTP and SRTCP unprotection (RFC 3711, RFC 7714) with a fixed key, as a transport receives
/// media. Input: a mode byte, then length-prefixed packets. Mode bits 0-1 pick the profile; bit 2,
/// SRTCP instead of SRTP; bit 3, each packet is first protected by a sender with the same key, so
/// that sequence numbers, rollover and replay windows are exercised with packets that authenticate
/// (else raw packets: bad ones must come back as a result, a counted drop, never an exception).
/// The receiver keeps state for at most 4 SSRCs, so the bound on streams is reached too.
/// </summary>
internal static class SrtpTarget
{
    private static readonly SrtpProfile[] Profiles =
        [SrtpProfile.AesCm128HmacSha1_80, SrtpProfile.AesCm128HmacSha1_32, SrtpProfile.AeadAes128Gcm, SrtpProfile.AeadAes256Gcm];

    public static void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        var mode = reader.Byte();
        var profile = Profiles[mode & 3];
        var rtcp = (mode & 4) != 0;
        var protectFirst = (mode & 8) != 0;
        var key = Key(profile.MasterKeyLength(), 0x10);
        var salt = Key(profile.MasterSaltLength(), 0x80);
        using var sender = new SrtpSession(profile, key, salt);
        using var receiver = new SrtpSession(profile, key, salt) { MaxStreams = 4 };
        var buffer = new byte[65536 + 64];
        var before = new byte[buffer.Length];
        while (!reader.IsEmpty)
        {
            var packet = reader.Record();
            packet.CopyTo(buffer);
            var length = packet.Length;
            if (protectFirst)
            {
                var protectedResult = rtcp ? sender.ProtectRtcp(buffer, length, out length) : sender.ProtectRtp(buffer, length, out length);
                if (protectedResult != SrtpResult.Ok) continue;
            }
            buffer.AsSpan(0, length).CopyTo(before);
            var result = rtcp ? receiver.UnprotectRtcp(buffer, length, out var newLength) : receiver.UnprotectRtp(buffer, length, out newLength);
            if (!Enum.IsDefined(result)) throw new FuzzInvariantException($"unprotect returned {result}");
            if (result == SrtpResult.Ok && (newLength < 0 || newLength > length)) throw new FuzzInvariantException($"unprotect made {length} bytes into {newLength}");
            // SrtpSession's contract: a dropped packet is left as it was (the caller may count it, log it or pass it on).
            if (result != SrtpResult.Ok && (newLength != length || !buffer.AsSpan(0, length).SequenceEqual(before.AsSpan(0, length))))
                throw new FuzzInvariantException($"a packet dropped as {result} was changed");
        }
        _ = receiver.StreamCount + receiver.StreamsRefused;
        // Continuing the receiver elsewhere must keep working from any state it reached.
        using var continued = SrtpSession.Import(receiver.Export());
    }

    private static byte[] Key(int length, byte first)
    {
        var key = new byte[length];
        for (var i = 0; i < length; i++) key[i] = (byte)(first + i);
        return key;
    }
}
