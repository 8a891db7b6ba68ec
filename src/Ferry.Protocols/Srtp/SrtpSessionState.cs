namespace Ferry.Protocols.Srtp;

/// <summary>The state of an <see cref="SrtpSession"/> as plain data, to continue it on another worker or server.</summary>
public sealed record SrtpSessionState
{
    /// <summary>Protection profile.</summary>
    public required SrtpProfile Profile { get; init; }
    /// <summary>Master key.</summary>
    public required byte[] MasterKey { get; init; }
    /// <summary>Master salt.</summary>
    public required byte[] MasterSalt { get; init; }
    /// <summary>Per-SSRC state.</summary>
    public required IReadOnlyList<SrtpStreamState> Streams { get; init; }
}

/// <summary>Per-SSRC SRTP/SRTCP state.</summary>
public sealed record SrtpStreamState
{
    /// <summary>The SSRC.</summary>
    public uint Ssrc { get; init; }
    /// <summary>Rollover counter.</summary>
    public uint Roc { get; init; }
    /// <summary>Highest sequence number seen in this ROC.</summary>
    public ushort HighestSeq { get; init; }
    /// <summary>Whether any RTP was seen.</summary>
    public bool Started { get; init; }
    /// <summary>Highest accepted SRTP index.</summary>
    public long RtpReplayHighest { get; init; }
    /// <summary>Whether the SRTP replay window holds anything.</summary>
    public bool RtpReplayStarted { get; init; }
    /// <summary>SRTP replay bitmap (bit i of word w: index Highest - (64w + i) was received).</summary>
    public ulong[] RtpReplayBits { get; init; } = [];
    /// <summary>Last SRTCP index sent.</summary>
    public uint RtcpIndex { get; init; }
    /// <summary>Highest accepted SRTCP index.</summary>
    public long RtcpReplayHighest { get; init; }
    /// <summary>Whether the SRTCP replay window holds anything.</summary>
    public bool RtcpReplayStarted { get; init; }
    /// <summary>SRTCP replay bitmap.</summary>
    public ulong[] RtcpReplayBits { get; init; } = [];
}
