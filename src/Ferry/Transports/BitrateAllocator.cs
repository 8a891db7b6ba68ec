using Ferry.Protocols.Ortc;
using Ferry.Rtp;

namespace Ferry.Transports;

/// <summary>What one allocation decided.</summary>
/// <param name="Desired">What the consumers would send at their preferred layers (bps).</param>
/// <param name="Allocated">What the chosen layers cost, fixed consumers included (bps; may exceed the estimate when even the lowest layers do not fit).</param>
/// <param name="Wanted">The total that would let the first consumer held back climb one more layer (bps); 0 when none is held back.</param>
internal readonly record struct BitrateAllocation(long Desired, long Allocated, long Wanted);

/// <summary>
/// Shares a transport's available outgoing bitrate among its consumers, as mediasoup does: consumers
/// whose layers cannot be chosen (simple, SVC, audio) count at what their producer sends; simulcast
/// consumers climb their layers (each stream's temporal layers, then the next stream's), highest priority
/// first, one layer each in the first round and up to <c>priority</c> layers each in every later round,
/// while the next layer fits; never above their preferred layers. A consumer keeps the layers it forwards,
/// or was given by the last allocation and waits to forward, at their price; a layer above those must fit
/// with 10% to spare, so an estimate hovering at a layer's price does not flip it up and down, and must
/// also fit in what the receiver has acknowledged receiving (the upgrade budget): an estimate that padding
/// pushed past the path's capacity, before the detector saw the queue, does not turn into a layer the path
/// cannot carry. An upgrade is judged once: given, it stays given while the estimate covers its price.
/// </summary>
/// <remarks>
/// Unlike mediasoup, a consumer always keeps its lowest flowing layer even when the estimate does not
/// cover it: without probing, a consumer sending nothing would give the estimator nothing to measure.
/// Holds reusable lists; one per transport, used on its loop.
/// </remarks>
internal sealed class BitrateAllocator
{
    private const double UpgradeHeadroom = 1.1;

    private readonly List<Consumer> _layered = [];

    public BitrateAllocation Allocate(Dictionary<string, Consumer>.ValueCollection consumers, long available, long upgradeBudget, TimeSpan now)
    {
        long desired = 0, fixedCost = 0;
        _layered.Clear();
        foreach (var c in consumers)
        {
            if (!c.TakesPartInAllocation) continue;
            if (c.Type == ConsumerType.Simulcast)
            {
                // Nothing measured (its producer stalled, or a replica just began): its cap stays as it was.
                if (c.PrepareAllocation(now) > 0) InsertByPriority(c);
                continue;
            }
            var cost = c.FixedBitrate(now);
            fixedCost += cost;
            desired += cost;
        }
        var remaining = available - fixedCost;
        var upgradeRemaining = Math.Min(available, upgradeBudget) - fixedCost;
        foreach (var c in _layered)
        {
            c.AllocationIndex = 0;
            remaining -= c.AllocationBitrate(0);
            upgradeRemaining -= c.AllocationBitrate(0);
            desired += c.AllocationBitrate(c.AllocationCount - 1);
        }
        long wanted = 0;
        var progress = true;
        while (progress)
        {
            progress = false;
            wanted = 0;
            foreach (var c in _layered)
            {
                for (var steps = 0; steps < c.Priority && c.AllocationIndex + 1 < c.AllocationCount; steps++)
                {
                    var from = c.AllocationBitrate(c.AllocationIndex);
                    var next = c.AllocationIndex + 1;
                    var to = c.AllocationBitrate(next);
                    var upgrade = next > c.AllocationKeptIndex;
                    var price = upgrade ? (long)(to * UpgradeHeadroom) - from : to - from;
                    if (price > remaining || (upgrade && price > upgradeRemaining))
                    {
                        // The first consumer held back (highest priority) is the one a ramp would serve.
                        if (wanted == 0) wanted = available - remaining + price;
                        break;
                    }
                    c.AllocationIndex = next;
                    remaining -= to - from;
                    upgradeRemaining -= to - from;
                    progress = true;
                }
            }
        }
        // The cap is what each consumer was given, its preferred layers included: a preference raised later
        // waits for the next allocation (asked for at once) rather than going past the estimate.
        foreach (var c in _layered) c.SetBweCap(c.AllocationLayers(c.AllocationIndex), now);
        return new BitrateAllocation(desired, available - remaining, wanted);
    }

    /// <summary>Keeps the list ordered by priority, highest first, equal priorities in the transport's order.</summary>
    private void InsertByPriority(Consumer consumer)
    {
        var i = _layered.Count;
        while (i > 0 && _layered[i - 1].Priority < consumer.Priority) i--;
        _layered.Insert(i, consumer);
    }
}
