using System.Security.Cryptography;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Srtp;

namespace Ferry.Transports;

/// <summary>
/// SRTP keyed by signalling (SDES style, as PlainTransport and PipeTransport do): a master key and
/// salt per direction, exchanged as mediasoup's <see cref="SrtpParameters"/> (suite name, base64 of key then salt).
/// </summary>
internal static class SdesKeys
{
    /// <summary>Random key and salt for <paramref name="profile"/>, concatenated.</summary>
    public static byte[] Generate(SrtpProfile profile)
    {
        var keyAndSalt = new byte[profile.MasterKeyLength() + profile.MasterSaltLength()];
        RandomNumberGenerator.Fill(keyAndSalt);
        return keyAndSalt;
    }

    public static SrtpParameters ToParameters(SrtpProfile profile, byte[] keyAndSalt) =>
        new() { CryptoSuite = profile.ToMediasoupName(), KeyBase64 = Convert.ToBase64String(keyAndSalt) };

    public static SrtpSession CreateSession(SrtpProfile profile, byte[] keyAndSalt)
    {
        var keyLength = profile.MasterKeyLength();
        return new SrtpSession(profile, keyAndSalt.AsSpan(0, keyLength), keyAndSalt.AsSpan(keyLength));
    }

    /// <summary>Validates remote parameters (mediasoup's TypeError cases) and decodes them.</summary>
    /// <exception cref="ArgumentException">Missing fields, an unknown or disallowed suite, bad base64 or a wrong key length.</exception>
    public static (SrtpProfile Profile, byte[] KeyAndSalt) Parse(SrtpParameters parameters, Func<SrtpProfile, bool> allowed)
    {
        if (string.IsNullOrEmpty(parameters.CryptoSuite)) throw new ArgumentException("missing srtpParameters.cryptoSuite");
        if (string.IsNullOrEmpty(parameters.KeyBase64)) throw new ArgumentException("missing srtpParameters.keyBase64");
        if (!SrtpProfiles.TryParseMediasoupName(parameters.CryptoSuite, out var profile) || !allowed(profile))
            throw new ArgumentException($"invalid/unsupported srtpParameters.cryptoSuite '{parameters.CryptoSuite}'");
        byte[] keyAndSalt;
        try
        {
            keyAndSalt = Convert.FromBase64String(parameters.KeyBase64);
        }
        catch (FormatException)
        {
            throw new ArgumentException("invalid srtpParameters.keyBase64 (not base64)");
        }
        var expected = profile.MasterKeyLength() + profile.MasterSaltLength();
        if (keyAndSalt.Length != expected)
            throw new ArgumentException($"invalid srtpParameters.keyBase64: {keyAndSalt.Length} bytes, {parameters.CryptoSuite} needs {expected}");
        return (profile, keyAndSalt);
    }
}
