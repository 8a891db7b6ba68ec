namespace Ferry.Protocols.Srtp;

/// <summary>
/// An SRTP protection profile. The numeric values are the DTLS-SRTP protection profile ids
/// registered with IANA (RFC 5764 §4.1.2, RFC 7714 §14.2), so they can go on the wire as they are.
/// </summary>
public enum SrtpProfile : ushort
{
    /// <summary>AES-128 counter mode with an 80-bit HMAC-SHA1 tag (RFC 3711). mediasoup: <c>AES_CM_128_HMAC_SHA1_80</c>.</summary>
    AesCm128HmacSha1_80 = 0x0001,

    /// <summary>AES-128 counter mode with a 32-bit HMAC-SHA1 tag on SRTP (80-bit on SRTCP). mediasoup: <c>AES_CM_128_HMAC_SHA1_32</c>.</summary>
    AesCm128HmacSha1_32 = 0x0002,

    /// <summary>AES-128 GCM with a 16-byte tag (RFC 7714). mediasoup: <c>AEAD_AES_128_GCM</c>.</summary>
    AeadAes128Gcm = 0x0007,

    /// <summary>AES-256 GCM with a 16-byte tag (RFC 7714). mediasoup: <c>AEAD_AES_256_GCM</c>.</summary>
    AeadAes256Gcm = 0x0008,
}

/// <summary>Lengths and names that depend on the <see cref="SrtpProfile"/>.</summary>
public static class SrtpProfiles
{
    /// <summary>Master key length in bytes.</summary>
    public static int MasterKeyLength(this SrtpProfile profile) => profile == SrtpProfile.AeadAes256Gcm ? 32 : 16;

    /// <summary>Master salt length in bytes: 14 for AES-CM (RFC 3711), 12 for GCM (RFC 7714 §12).</summary>
    public static int MasterSaltLength(this SrtpProfile profile) => profile.IsAead() ? 12 : 14;

    /// <summary>Authentication tag length in bytes appended to an SRTP packet.</summary>
    public static int SrtpTagLength(this SrtpProfile profile) => profile switch
    {
        SrtpProfile.AesCm128HmacSha1_80 => 10,
        SrtpProfile.AesCm128HmacSha1_32 => 4,
        _ => 16,
    };

    /// <summary>Authentication tag length in bytes appended to an SRTCP packet (the _32 profile still uses 80 bits there, RFC 5764 §4.1.2).</summary>
    public static int SrtcpTagLength(this SrtpProfile profile) => profile.IsAead() ? 16 : 10;

    /// <summary>True for the AEAD (GCM) profiles of RFC 7714.</summary>
    public static bool IsAead(this SrtpProfile profile) => profile is SrtpProfile.AeadAes128Gcm or SrtpProfile.AeadAes256Gcm;

    /// <summary>The name mediasoup uses for the suite (PlainTransport srtpParameters.cryptoSuite).</summary>
    public static string ToMediasoupName(this SrtpProfile profile) => profile switch
    {
        SrtpProfile.AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
        SrtpProfile.AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        SrtpProfile.AeadAes128Gcm => "AEAD_AES_128_GCM",
        SrtpProfile.AeadAes256Gcm => "AEAD_AES_256_GCM",
        _ => throw new ArgumentOutOfRangeException(nameof(profile)),
    };

    /// <summary>Parses a mediasoup cryptoSuite name.</summary>
    public static bool TryParseMediasoupName(string name, out SrtpProfile profile)
    {
        foreach (var p in (ReadOnlySpan<SrtpProfile>)[SrtpProfile.AesCm128HmacSha1_80, SrtpProfile.AesCm128HmacSha1_32, SrtpProfile.AeadAes128Gcm, SrtpProfile.AeadAes256Gcm])
        {
            if (p.ToMediasoupName() == name) { profile = p; return true; }
        }
        profile = default;
        return false;
    }
}
