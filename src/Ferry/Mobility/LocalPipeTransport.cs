using Ferry.Ortc;
using Ferry.Protocols.Ortc;
using Ferry.Rtp;
using Ferry.Transports;

namespace Ferry.Mobility;

/// <summary>
/// The hidden transport of a router that holds replicas: producers with an origin's id whose packets
/// come from the origin through a <see cref="LocalPipe"/> instead of a network. Key frame requests of
/// its consumers go back to the origin; nothing is sent anywhere.
/// </summary>
internal sealed class LocalPipeTransport : Transport
{
    internal LocalPipeTransport(Router router) : base(router, null)
    {
    }

    internal override bool IsConnected => !Closed;

    /// <summary>Creates the replica of <paramref name="origin"/> here (not yet in the router's producer map) and the pipe that feeds it. Call on this router's loop.</summary>
    internal (Producer Replica, LocalPipe Pipe) CreateReplica(Producer origin)
    {
        var consumable = origin.ConsumableRtpParameters;
        var mapping = new RtpMapping
        {
            Codecs = consumable.Codecs.Select(c => new RtpMapping.CodecMapping(c.PayloadType, c.PayloadType)).ToList(),
            Encodings = (consumable.Encodings ?? []).Select(e => new RtpMapping.EncodingMapping(e.Ssrc, null, e.ScalabilityMode, e.Ssrc!.Value)).ToList(),
        };
        var options = new ProducerOptions { Id = origin.Id, Kind = origin.Kind, RtpParameters = consumable, Paused = origin.Paused, AppData = origin.AppData };
        var replica = new Producer(this, options, consumable, mapping, consumable, origin.Type, origin);
        AddReplicaProducer(replica);
        var pipe = new LocalPipe(this, replica);
        replica.FeedingPipe = pipe;
        return (replica, pipe);
    }

    /// <summary>A packet from a pipe, on this router's loop.</summary>
    internal void Deliver(Span<byte> packet) => ReceiveRtp(packet);

    internal override void SendKeyFrameRequest(uint mediaSsrc, bool useFir)
    {
        foreach (var replica in Producers)
        {
            if (replica.Origin is not { } origin) continue;
            foreach (var stream in replica.Streams)
            {
                if (stream.MappedSsrc != mediaSsrc) continue;
                origin.Transport.Post(() => origin.RequestKeyFrameMapped(mediaSsrc, origin.Loop.Now));
                return;
            }
        }
    }

    private protected override void SendRtp(Span<byte> buffer, int length)
    {
    }

    private protected override void SendRtcp(Span<byte> buffer, int length)
    {
    }

    private protected override void ReleaseResources()
    {
    }
}
