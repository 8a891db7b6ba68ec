using System.Security.Cryptography;

namespace Ferry.Protocols.Dtls;

/// <summary>
/// The TLS 1.2 pseudo-random function (RFC 5246 §5): P_hash(secret, label + seed) with the suite's
/// PRF hash, used to expand the master secret into the record layer's key block (§6.3). Runs once
/// per import, so it favours clarity over avoiding allocation.
/// </summary>
internal static class TlsPrf
{
    /// <summary>Fills <paramref name="output"/> with PRF(secret, label, seed).</summary>
    /// <param name="hash">SHA-256 or SHA-384.</param>
    /// <param name="secret">The secret (the master secret for a key block).</param>
    /// <param name="label">ASCII label, e.g. "key expansion".</param>
    /// <param name="seed">The seed (server_random + client_random for a key block).</param>
    /// <param name="output">As many bytes as wanted.</param>
    public static void Compute(HashAlgorithmName hash, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> label, ReadOnlySpan<byte> seed, Span<byte> output)
    {
        var hashLength = hash == HashAlgorithmName.SHA256 ? 32 : hash == HashAlgorithmName.SHA384 ? 48
            : throw new ArgumentException($"the TLS 1.2 PRF of Ferry's record layer takes SHA-256 or SHA-384, not {hash.Name}", nameof(hash));
        // A(i) followed by label + seed: A(i+1) = HMAC(A(i)) and the output block = HMAC(A(i) + label + seed).
        var buffer = new byte[hashLength + label.Length + seed.Length];
        label.CopyTo(buffer.AsSpan(hashLength));
        seed.CopyTo(buffer.AsSpan(hashLength + label.Length));
        var a = buffer.AsSpan(0, hashLength);
        Hmac(hash, secret, buffer.AsSpan(hashLength), a);   // A(1) = HMAC(label + seed)
        Span<byte> block = stackalloc byte[48];
        Span<byte> next = stackalloc byte[48];
        block = block[..hashLength];
        next = next[..hashLength];
        for (var done = 0; done < output.Length; done += hashLength)
        {
            Hmac(hash, secret, buffer, block);
            block[..Math.Min(hashLength, output.Length - done)].CopyTo(output[done..]);
            Hmac(hash, secret, a, next);   // not in place: source and destination would overlap
            next.CopyTo(a);
        }
        CryptographicOperations.ZeroMemory(buffer);
        CryptographicOperations.ZeroMemory(block);
    }

    private static void Hmac(HashAlgorithmName hash, ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        if (hash == HashAlgorithmName.SHA256) HMACSHA256.HashData(key, data, destination);
        else HMACSHA384.HashData(key, data, destination);
    }
}
