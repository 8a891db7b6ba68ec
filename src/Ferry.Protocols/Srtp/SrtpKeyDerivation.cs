namespace Ferry.Protocols.Srtp;

/// <summary>
/// The SRTP key derivation function (RFC 3711 §4.3.1 and §4.3.3, key derivation rate 0): session
/// keys are the AES-CM keystream under the master key, starting at IV = (label at byte 7 XOR the
/// master salt) followed by two zero bytes. GCM's 12-byte master salt is zero-extended to 14 bytes
/// (RFC 7714 §11 keeps the same KDF; libsrtp pads the same way).
/// </summary>
internal static class SrtpKeyDerivation
{
    public const byte RtpEncryption = 0, RtpAuthentication = 1, RtpSalt = 2;
    public const byte RtcpEncryption = 3, RtcpAuthentication = 4, RtcpSalt = 5;

    public static void Derive(AesCounterMode prf, ReadOnlySpan<byte> masterSalt, byte label, Span<byte> output)
    {
        Span<byte> iv = stackalloc byte[16];
        iv.Clear();
        masterSalt[..Math.Min(14, masterSalt.Length)].CopyTo(iv);
        iv[7] ^= label;
        prf.Keystream(iv, output);
    }
}
