using Ferry.Loop;
using Ferry.Mobility.Remote;
using Ferry.Transports;

namespace Ferry;

/// <summary>The router as the target of a move of a transport from another process.</summary>
public sealed partial class Router
{
    /// <summary>
    /// Prepares this router to receive a <see cref="WebRtcTransport"/> moving from another process: binds the
    /// relay socket the source will send the far end's datagrams to. Give <see cref="TransportImportSlot.RelayEndPoint"/>
    /// to the source's <see cref="WebRtcTransport.ExportForMoveAsync"/>, and its snapshot to <see cref="TransportImportSlot.ImportAsync"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Bad options.</exception>
    /// <exception cref="InvalidStateException">The router is closed.</exception>
    public Task<TransportImportSlot> PrepareTransportImportAsync(TransportImportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfClosed();
        if (!System.Net.IPAddress.TryParse(options.RelayListenIp, out var relayIp)) throw new ArgumentException($"invalid relayListenIp '{options.RelayListenIp}'");
        if (options.PendingCapacity < 0) throw new ArgumentException("pendingCapacity must be >= 0");
        if (options.PathSwitchHoldTime < TimeSpan.Zero) throw new ArgumentException("pathSwitchHoldTime must be >= 0");
        if (options.PathSwitchHoldCapacity < 0 || options.PathSwitchHoldCapacity > 65536) throw new ArgumentException("pathSwitchHoldCapacity must be in [0, 65536]");
        return InvokeAsync(() =>
        {
            ThrowIfClosed();
            var held = new List<Rtp.Producer>();
            foreach (var id in options.HoldProducerIds.Distinct())
            {
                if (!TryGetProducer(id, out var producer) || producer.Transport.Router != this)
                    throw new ArgumentException($"producer {id} is not in this router: pipe it here before the move");
                held.Add(producer);
            }
            var settings = Worker.Settings;
            var relay = new RelayLink(receiver => UdpSocket.Bind(Loop, relayIp, settings.RtcMinPort, settings.RtcMaxPort, receiver), options.PendingCapacity);
            // Held only once nothing can fail any more, so a refused preparation leaves nothing held.
            foreach (var producer in held) producer.HoldForMove();
            return new TransportImportSlot(this, options, relay, held);
        });
    }

    /// <summary>Registers a transport made from a snapshot (its id came from the source; the slot checked it is free here).</summary>
    internal void AddImportedTransport(Transport transport) => AddTransport(transport);
}
