namespace Ferry.Rtp;

/// <summary>
/// What a producer keeps while a transport consuming it is moved between processes: the packets it
/// receives meanwhile, so the moved consumers (frozen at the source, not yet live at the target) can be
/// given them once live (<see cref="Consumer.CatchUpAfterMove"/>). A stream with NACK keeps its packets
/// anyway; one without (audio, usually) gets a store for the time of the move.
/// </summary>
public sealed partial class Producer
{
    private int _moveHolds;

    /// <summary>Starts keeping every stream's packets (on the loop); pair with <see cref="ReleaseMoveHold"/>.</summary>
    internal void HoldForMove()
    {
        Transport.Loop.AssertOnLoop();
        _moveHolds++;
        foreach (var stream in Streams)
        {
            if (stream.Store is not null) continue;
            stream.Store = new PacketStore();
            stream.StoreHeldForMove = true;
        }
    }

    /// <summary>One move no longer needs the packets; the stores added for moves go with the last one.</summary>
    internal void ReleaseMoveHold()
    {
        Transport.Loop.AssertOnLoop();
        if (_moveHolds == 0 || --_moveHolds > 0) return;
        foreach (var stream in Streams)
        {
            if (!stream.StoreHeldForMove) continue;
            stream.Store?.Dispose();
            stream.Store = null;
            stream.StoreHeldForMove = false;
        }
    }
}
