using System.Runtime.InteropServices;
using static Ferry.Bench.FloorLibCrypto;

namespace Ferry.Bench;

/// <summary>Ways to compute HMAC-SHA1 under a fixed key with libcrypto; the bench's <c>srtp</c> phase measures each.</summary>
internal enum HmacMethod
{
    /// <summary>SHA-1 states after the key's inner and outer pads, computed once; per message the two states are
    /// copied (managed memory, 96 bytes each) and continued: four native calls, no key schedule, nothing allocated.</summary>
    Sha1Midstate,

    /// <summary>One keyed <c>HMAC_CTX</c>; per message <c>HMAC_Init_ex(ctx, NULL, ...)</c> restarts it from its stored pads.</summary>
    HmacCtxReinit,

    /// <summary>A keyed template <c>HMAC_CTX</c> copied into a working one per message (<c>HMAC_CTX_copy</c>).</summary>
    HmacCtxCopy,

    /// <summary>OpenSSL 3's <c>EVP_MAC</c>: one keyed context; per message <c>EVP_MAC_init(ctx, NULL, 0, NULL)</c>.</summary>
    EvpMacReinit,
}

/// <summary>HMAC-SHA1 under one key; one instance per direction, used from one thread; allocates nothing per message.</summary>
internal sealed unsafe class FloorHmac : IDisposable
{
    // SHA_CTX: h0..h4, Nl, Nh, data[16], num: 24 32-bit words.
    private const int Sha1StateBytes = 96;
    private readonly HmacMethod _method;
    // Pinned: the midstate and the working state are handed to SHA1_Update by address.
    private readonly byte[] _states = GC.AllocateArray<byte>(4 * Sha1StateBytes, pinned: true);
    private readonly FloorHmacContext? _hmac, _template;
    private readonly FloorMacContext? _mac, _macAlgorithm;

    public FloorHmac(HmacMethod method, ReadOnlySpan<byte> key)
    {
        _method = method;
        switch (method)
        {
            case HmacMethod.Sha1Midstate:
                {
                    // RFC 2104: H((K ^ opad) || H((K ^ ipad) || m)); keys of SRTP are 20 bytes, under SHA-1's 64-byte block.
                    if (key.Length > 64) throw new ArgumentException("HMAC key longer than a SHA-1 block");
                    Span<byte> pad = stackalloc byte[64];
                    fixed (byte* s = _states)
                    {
                        pad.Fill(0x36);
                        for (var i = 0; i < key.Length; i++) pad[i] ^= key[i];
                        fixed (byte* p = pad)
                        {
                            Check(SHA1_Init(s) == 1 && SHA1_Update(s, p, 64) == 1);
                            pad.Fill(0x5c);
                            for (var i = 0; i < key.Length; i++) pad[i] ^= key[i];
                            Check(SHA1_Init(s + Sha1StateBytes) == 1 && SHA1_Update(s + Sha1StateBytes, p, 64) == 1);
                        }
                    }
                    break;
                }
            case HmacMethod.HmacCtxReinit:
            case HmacMethod.HmacCtxCopy:
                _hmac = new FloorHmacContext();
                fixed (byte* k = key)
                {
                    Check(HMAC_Init_ex(_hmac.Pointer, k, key.Length, EVP_sha1(), 0) == 1);
                    if (method == HmacMethod.HmacCtxCopy)
                    {
                        _template = new FloorHmacContext();
                        Check(HMAC_Init_ex(_template.Pointer, k, key.Length, EVP_sha1(), 0) == 1);
                    }
                }
                break;
            case HmacMethod.EvpMacReinit:
                {
                    _macAlgorithm = new FloorMacContext(EVP_MAC_fetch(0, "HMAC", 0), isMac: true);
                    _mac = new FloorMacContext(EVP_MAC_CTX_new(_macAlgorithm.Pointer), isMac: false);
                    var name = "digest\0"u8;
                    var sha1 = "SHA1\0"u8;
                    fixed (byte* n = name, d = sha1, k = key)
                    {
                        var parameters = stackalloc OsslParam[2];
                        parameters[0] = new OsslParam { Key = n, DataType = OSSL_PARAM_UTF8_STRING, Data = d, DataSize = 4 };
                        parameters[1] = default;
                        Check(EVP_MAC_init(_mac.Pointer, k, (nuint)key.Length, parameters) == 1);
                    }
                    break;
                }
            default:
                throw new ArgumentOutOfRangeException(nameof(method));
        }
    }

    /// <summary>HMAC-SHA1 of <paramref name="first"/> then <paramref name="second"/> (either may be empty) into 20 bytes at <paramref name="mac"/>.</summary>
    public void Compute(byte* first, int firstLength, byte* second, int secondLength, byte* mac)
    {
        switch (_method)
        {
            case HmacMethod.Sha1Midstate:
                fixed (byte* s = _states)
                {
                    var work = s + 2 * Sha1StateBytes;
                    // The states are plain C structs: a managed copy restarts them, no native call needed.
                    new ReadOnlySpan<byte>(s, Sha1StateBytes).CopyTo(new Span<byte>(work, Sha1StateBytes));
                    if (firstLength > 0) SHA1_Update(work, first, (nuint)firstLength);
                    if (secondLength > 0) SHA1_Update(work, second, (nuint)secondLength);
                    var inner = stackalloc byte[20];
                    SHA1_Final(inner, work);
                    new ReadOnlySpan<byte>(s + Sha1StateBytes, Sha1StateBytes).CopyTo(new Span<byte>(work, Sha1StateBytes));
                    SHA1_Update(work, inner, 20);
                    SHA1_Final(mac, work);
                }
                return;
            case HmacMethod.HmacCtxReinit:
            case HmacMethod.HmacCtxCopy:
                {
                    var ctx = _hmac!.Pointer;
                    if (_template is not null) HMAC_CTX_copy(ctx, _template.Pointer);
                    else HMAC_Init_ex(ctx, null, 0, 0, 0);
                    if (firstLength > 0) HMAC_Update(ctx, first, (nuint)firstLength);
                    if (secondLength > 0) HMAC_Update(ctx, second, (nuint)secondLength);
                    uint length;
                    HMAC_Final(ctx, mac, &length);
                    return;
                }
            default:
                {
                    var ctx = _mac!.Pointer;
                    EVP_MAC_init(ctx, null, 0, null);
                    if (firstLength > 0) EVP_MAC_update(ctx, first, (nuint)firstLength);
                    if (secondLength > 0) EVP_MAC_update(ctx, second, (nuint)secondLength);
                    nuint length;
                    EVP_MAC_final(ctx, mac, &length, 20);
                    return;
                }
        }
    }

    public void Dispose()
    {
        _hmac?.Dispose();
        _template?.Dispose();
        _mac?.Dispose();
        _macAlgorithm?.Dispose();
    }
}
