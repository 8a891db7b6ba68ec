namespace Ferry.Server.Signaling;

/// <summary>A request the room refuses: answered with ok:false, the error code and this message as errorReason.</summary>
public sealed class ProtooRequestException(string reason, int code = 500) : Exception(reason)
{
    /// <summary>protoo's errorCode.</summary>
    public int Code { get; } = code;
}
