using System.Buffers.Binary;
using Ferry.Protocols;
using Ferry.Protocols.Ice;
using Ferry.Protocols.Net;
using Ferry.Protocols.Stun;

namespace Ferry.Fuzz;

/// <summary>
/// STUN (RFC 8489) as an ICE-lite agent receives it. Input: one datagram. It is parsed with every
/// accessor and both integrity checks, then handed to an <see cref="IceLiteAgent"/> twice: as it
/// is, and re-signed (MESSAGE-INTEGRITY and FINGERPRINT recomputed where they stand) so that mutated
/// requests also reach what runs after authentication. The agent's credentials are RFC 5769's, so
/// the RFC's sample request authenticates.
/// </summary>
internal static class StunTarget
{
    public const string Ufrag = "evtj";
    public const string Password = "VOkJxbRl1RmTxUk/WvJxBt";
    private static readonly byte[] Key = System.Text.Encoding.UTF8.GetBytes(Password);
    private static readonly byte[] FromAddress = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 0, 2, 1];

    public static void Run(ReadOnlySpan<byte> input)
    {
        PacketClassifier.Classify(input);
        Inspect(input);
        // WebRtcTransport answers into a 512-byte buffer; the agent must stay within it.
        Span<byte> response = stackalloc byte[512];
        var agent = new IceLiteAgent(Ufrag, Password);
        Handle(agent, input, response);

        if (input.Length > 4096) return;
        Span<byte> copy = stackalloc byte[input.Length];
        input.CopyTo(copy);
        if (!Resign(copy)) return;
        Inspect(copy);
        Handle(agent, copy, response);
        // Once more after a restart of the credentials: the old ones still work until replaced.
        agent.Restart("fuzz", "fuzzfuzzfuzzfuzzfuzzfuzz", TimeSpan.FromSeconds(2));
        Handle(agent, copy, response);
        agent.HandleTimeout(TimeSpan.FromMinutes(5));
        while (agent.TryPollEvent(out _)) { }
    }

    private static void Handle(IceLiteAgent agent, ReadOnlySpan<byte> datagram, Span<byte> response)
    {
        agent.HandleStun(datagram, new TransportTuple(FromAddress, 40000, TransportProtocol.Udp), TimeSpan.FromSeconds(1), response, out var length);
        if ((uint)length > (uint)response.Length) throw new FuzzInvariantException($"response length {length}");
        if (length > 0 && !StunMessage.TryParse(response[..length], out _)) throw new FuzzInvariantException("the agent wrote a response that does not parse");
    }

    private static void Inspect(ReadOnlySpan<byte> datagram)
    {
        if (!StunMessage.TryParse(datagram, out var m)) return;
        _ = m.MessageType;
        _ = m.Method;
        _ = m.Class;
        _ = m.TransactionId;
        foreach (var attribute in m.Attributes)
        {
            _ = StunAttributeType.IsKnown(attribute.Type);
            _ = StunAttributeType.IsComprehensionRequired(attribute.Type);
        }
        m.TryGetUsername(out _);
        m.TryGetPriority(out _);
        m.TryGetNomination(out _);
        m.TryGetIceControlling(out _);
        m.TryGetIceControlled(out _);
        m.TryGetErrorCode(out _, out _);
        Span<byte> address = stackalloc byte[16];
        m.TryGetXorMappedAddress(address, out _, out _);
        m.VerifyMessageIntegrity(Key);
        m.VerifyFingerprint();
    }

    /// <summary>Recomputes MESSAGE-INTEGRITY and FINGERPRINT in place where the message has them; false when it does not parse.</summary>
    private static bool Resign(Span<byte> message)
    {
        if (!StunMessage.TryParse(message, out var parsed)) return false;
        var integrity = parsed.TryGetAttribute(StunAttributeType.MessageIntegrity, out var mac, out var integrityOffset) && mac.Length == 20 ? integrityOffset : -1;
        var fingerprint = parsed.TryGetAttribute(StunAttributeType.Fingerprint, out var crc, out var fingerprintOffset) && crc.Length == 4 ? fingerprintOffset : -1;
        if (integrity >= 0)
        {
            Span<byte> computed = stackalloc byte[20];
            StunMessage.ComputeIntegrity(message, integrity, Key, computed);
            computed.CopyTo(message[(integrity + 4)..]);
        }
        if (fingerprint >= 0)
            BinaryPrimitives.WriteUInt32BigEndian(message[(fingerprint + 4)..], StunMessage.ComputeFingerprint(message, fingerprint));
        return true;
    }
}
