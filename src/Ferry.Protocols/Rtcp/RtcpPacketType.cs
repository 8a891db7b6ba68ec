namespace Ferry.Protocols.Rtcp;

/// <summary>RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1, RFC 3611).</summary>
public static class RtcpPacketType
{
    /// <summary>Sender report.</summary>
    public const byte SenderReport = 200;
    /// <summary>Receiver report.</summary>
    public const byte ReceiverReport = 201;
    /// <summary>Source description.</summary>
    public const byte SourceDescription = 202;
    /// <summary>Goodbye.</summary>
    public const byte Bye = 203;
    /// <summary>Application-defined.</summary>
    public const byte App = 204;
    /// <summary>Transport-layer feedback (FMT 1 generic NACK, FMT 15 transport-wide cc).</summary>
    public const byte TransportFeedback = 205;
    /// <summary>Payload-specific feedback (FMT 1 PLI, FMT 4 FIR, FMT 15 application layer: REMB).</summary>
    public const byte PayloadFeedback = 206;
    /// <summary>Extended report.</summary>
    public const byte ExtendedReport = 207;

    /// <summary>FMT of a generic NACK in a transport feedback packet.</summary>
    public const int FmtNack = 1;
    /// <summary>FMT of transport-wide congestion control feedback.</summary>
    public const int FmtTransportCc = 15;
    /// <summary>FMT of a picture loss indication.</summary>
    public const int FmtPli = 1;
    /// <summary>FMT of a full intra request.</summary>
    public const int FmtFir = 4;
    /// <summary>FMT of application-layer feedback (REMB).</summary>
    public const int FmtAfb = 15;
}
