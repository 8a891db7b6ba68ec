using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ferry.Protocols.Dtls;

/// <summary>
/// The certificate a DTLS endpoint presents: generated (ECDSA P-256, self-signed, as mediasoup's
/// workers do) or loaded from PEM files. Holds the DER forms OpenSSL is given and the fingerprints
/// signalled in dtlsParameters.
/// </summary>
public sealed class DtlsCertificate
{
    private DtlsCertificate(byte[] certificateDer, byte[] privateKeyPkcs8)
    {
        CertificateDer = certificateDer;
        PrivateKeyPkcs8 = privateKeyPkcs8;
    }

    /// <summary>The certificate, DER.</summary>
    public byte[] CertificateDer { get; }

    internal byte[] PrivateKeyPkcs8 { get; }

    /// <summary>A new self-signed ECDSA P-256 certificate, valid ten years either side of now, with a random name.</summary>
    public static DtlsCertificate Generate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var name = $"ferry{RandomNumberGenerator.GetInt32(100000, 1000000)}";
        var request = new CertificateRequest($"CN={name}, O={name}", key, HashAlgorithmName.SHA256);
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddYears(-10), now.AddYears(10));
        return new DtlsCertificate(certificate.RawData, key.ExportPkcs8PrivateKey());
    }

    /// <summary>Loads a PEM certificate and its PEM private key (EC or RSA).</summary>
    public static DtlsCertificate LoadPem(string certificateFile, string privateKeyFile)
    {
        using var certificate = X509Certificate2.CreateFromPemFile(certificateFile, privateKeyFile);
        AsymmetricAlgorithm key = (AsymmetricAlgorithm?)certificate.GetECDsaPrivateKey() ?? certificate.GetRSAPrivateKey()
            ?? throw new ArgumentException($"{privateKeyFile} holds neither an EC nor an RSA key");
        using (key)
        {
            return new DtlsCertificate(certificate.RawData, key.ExportPkcs8PrivateKey());
        }
    }

    /// <summary>The fingerprints mediasoup signals, sha-256 last because mediasoup-client uses the last one.</summary>
    public IReadOnlyList<DtlsFingerprintValue> Fingerprints =>
    [
        Fingerprint("sha-1"), Fingerprint("sha-224"), Fingerprint("sha-384"), Fingerprint("sha-512"), Fingerprint("sha-256"),
    ];

    /// <summary>This certificate's fingerprint with <paramref name="algorithm"/>.</summary>
    public DtlsFingerprintValue Fingerprint(string algorithm) => new(algorithm, FingerprintOf(CertificateDer, algorithm));

    /// <summary>Fingerprint of DER bytes: upper-case hex pairs joined by colons (RFC 8122 §5).</summary>
    /// <exception cref="ArgumentException">Unknown algorithm.</exception>
    public static string FingerprintOf(ReadOnlySpan<byte> der, string algorithm)
    {
        var hash = algorithm.ToLowerInvariant() switch
        {
            "sha-1" => SHA1.HashData(der),
            "sha-224" => Sha224(der),
            "sha-256" => SHA256.HashData(der),
            "sha-384" => SHA384.HashData(der),
            "sha-512" => SHA512.HashData(der),
            _ => throw new ArgumentException($"unsupported fingerprint algorithm '{algorithm}'"),
        };
        return string.Join(':', hash.Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    // .NET has no SHA-224; OpenSSL's libcrypto does, and it is already loaded.
    private static unsafe byte[] Sha224(ReadOnlySpan<byte> data)
    {
        var output = new byte[28];
        fixed (byte* d = data)
        fixed (byte* o = output)
        {
            if (Sha224Native(d, (nuint)data.Length, o) == 0) throw new CryptographicException("SHA224 failed");
        }
        return output;
    }

    [System.Runtime.InteropServices.DllImport("libcrypto.so.3", EntryPoint = "SHA224")]
    private static extern unsafe nint Sha224Native(byte* data, nuint length, byte* output);
}
