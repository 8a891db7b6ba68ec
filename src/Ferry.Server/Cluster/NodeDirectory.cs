namespace Ferry.Server.Cluster;

/// <summary>
/// The HTTP base URLs of the cluster's active nodes, as the heartbeat last read them: what a peer is given to reconnect
/// its WebSocket to when its node dies (any node serves any room, see <see cref="SignalingForwarder"/>).
/// </summary>
internal sealed class NodeDirectory
{
    private volatile IReadOnlyList<string> _urls = [];

    /// <summary>The URLs, this node's first; empty before the first read.</summary>
    public IReadOnlyList<string> Urls => _urls;

    /// <summary>Replaces the list.</summary>
    public void Set(IReadOnlyList<string> urls) => _urls = urls;
}
