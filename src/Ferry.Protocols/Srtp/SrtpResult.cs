namespace Ferry.Protocols.Srtp;

/// <summary>Outcome of protecting or unprotecting one packet. Anything but <see cref="Ok"/> is a counted drop.</summary>
public enum SrtpResult : byte
{
    /// <summary>Done; the buffer holds the result.</summary>
    Ok,
    /// <summary>Too short or not RTP/RTCP; nothing changed.</summary>
    Malformed,
    /// <summary>The tag did not verify; nothing changed.</summary>
    AuthenticationFailed,
    /// <summary>This packet index was already received; dropped.</summary>
    ReplayDuplicate,
    /// <summary>The packet index is behind the replay window; dropped.</summary>
    ReplayTooOld,
    /// <summary>The buffer has no room for the tag (and SRTCP index).</summary>
    BufferTooSmall,
    /// <summary>A new SSRC while the session already holds <see cref="SrtpSession.MaxStreams"/>; dropped unauthenticated.</summary>
    TooManyStreams,
}
