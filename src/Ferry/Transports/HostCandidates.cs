using Ferry.Protocols.Ortc;

namespace Ferry.Transports;

/// <summary>The host candidates Ferry offers, with mediasoup's priorities (RFC 8445 §5.1.2.1).</summary>
internal static class HostCandidates
{
    /// <summary>Local preference of the first listen info; each next one gets 100 less.</summary>
    public const int FirstLocalPreference = 10000;

    /// <summary>What preferUdp/preferTcp add to the local preference of a WebRtcServer's candidates of that protocol.</summary>
    public const int PreferenceBonus = 1000;

    /// <summary>
    /// priority = 2^24 * type preference + 2^8 * local preference + (256 - component): host candidates
    /// (type preference 64), component 1 (rtcp-mux). UDP and TCP share the formula, as in mediasoup;
    /// only the local preference tells them apart.
    /// </summary>
    public static long Priority(int localPreference) => (1L << 24) * 64 + 256L * localPreference + (256 - 1);

    /// <summary>One host candidate; a TCP one is passive (RFC 6544: Ferry accepts, never connects).</summary>
    public static IceCandidate Create(TransportProtocolName protocol, string address, int port, int localPreference) => new()
    {
        Foundation = protocol == TransportProtocolName.Tcp ? "tcpcandidate" : "udpcandidate",
        Priority = Priority(localPreference),
        Address = address,
        Ip = address,
        Protocol = protocol,
        Port = port,
        Type = IceCandidateType.Host,
        TcpType = protocol == TransportProtocolName.Tcp ? IceTcpCandidateType.Passive : null,
    };
}
