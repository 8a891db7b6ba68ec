namespace Ferry.Protocols.Stun;

/// <summary>STUN message classes (RFC 8489 §5).</summary>
public enum StunClass : byte
{
    /// <summary>Request.</summary>
    Request = 0,
    /// <summary>Indication.</summary>
    Indication = 1,
    /// <summary>Success response.</summary>
    SuccessResponse = 2,
    /// <summary>Error response.</summary>
    ErrorResponse = 3,
}

/// <summary>STUN attribute types Ferry reads or writes (RFC 8489 §18.3, RFC 8445 §16.1, renomination draft).</summary>
public static class StunAttributeType
{
    /// <summary>MAPPED-ADDRESS.</summary>
    public const ushort MappedAddress = 0x0001;
    /// <summary>USERNAME.</summary>
    public const ushort Username = 0x0006;
    /// <summary>MESSAGE-INTEGRITY (HMAC-SHA1).</summary>
    public const ushort MessageIntegrity = 0x0008;
    /// <summary>ERROR-CODE.</summary>
    public const ushort ErrorCode = 0x0009;
    /// <summary>UNKNOWN-ATTRIBUTES.</summary>
    public const ushort UnknownAttributes = 0x000A;
    /// <summary>REALM.</summary>
    public const ushort Realm = 0x0014;
    /// <summary>NONCE.</summary>
    public const ushort Nonce = 0x0015;
    /// <summary>MESSAGE-INTEGRITY-SHA256.</summary>
    public const ushort MessageIntegritySha256 = 0x001C;
    /// <summary>XOR-MAPPED-ADDRESS.</summary>
    public const ushort XorMappedAddress = 0x0020;
    /// <summary>PRIORITY (ICE).</summary>
    public const ushort Priority = 0x0024;
    /// <summary>USE-CANDIDATE (ICE).</summary>
    public const ushort UseCandidate = 0x0025;
    /// <summary>SOFTWARE.</summary>
    public const ushort Software = 0x8022;
    /// <summary>FINGERPRINT.</summary>
    public const ushort Fingerprint = 0x8028;
    /// <summary>ICE-CONTROLLED.</summary>
    public const ushort IceControlled = 0x8029;
    /// <summary>ICE-CONTROLLING.</summary>
    public const ushort IceControlling = 0x802A;
    /// <summary>NOMINATION (ICE renomination, draft-thatcher-ice-renomination).</summary>
    public const ushort Nomination = 0xC001;

    /// <summary>True for the attributes Ferry's ICE-lite side understands (so an unknown comprehension-required one gets a 420).</summary>
    public static bool IsKnown(ushort type) => type is MappedAddress or Username or MessageIntegrity or ErrorCode or UnknownAttributes
        or Realm or Nonce or MessageIntegritySha256 or XorMappedAddress or Priority or UseCandidate;

    /// <summary>Comprehension-required attributes are 0x0000-0x7FFF (RFC 8489 §14).</summary>
    public static bool IsComprehensionRequired(ushort type) => type < 0x8000;
}

/// <summary>STUN constants.</summary>
public static class StunConstants
{
    /// <summary>The magic cookie (RFC 8489 §5).</summary>
    public const uint MagicCookie = 0x2112A442;
    /// <summary>Header length.</summary>
    public const int HeaderLength = 20;
    /// <summary>The Binding method.</summary>
    public const ushort BindingMethod = 0x001;
    /// <summary>XOR applied to the CRC in FINGERPRINT.</summary>
    public const uint FingerprintXor = 0x5354554E;

    /// <summary>Encodes method and class into the 14-bit message type (RFC 8489 §5, Figure 3).</summary>
    public static ushort MessageType(ushort method, StunClass cls)
    {
        var c = (int)cls;
        return (ushort)((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7));
    }
}
