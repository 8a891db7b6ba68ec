using Ferry.Mobility;
using Ferry.Mobility.Remote;
using Orleans.Serialization;

namespace Ferry.Server.Cluster;

/// <summary>
/// The snapshots of a move between servers as Orleans carries them in grain calls: System.Text.Json with
/// the options of <see cref="SnapshotJson"/> (the records are plain data; their JSON is their one wire form).
/// </summary>
public static class SnapshotSerialization
{
    private static readonly HashSet<Type> Types =
    [
        typeof(WebRtcTransportSnapshot), typeof(ProducerSnapshot), typeof(ConsumerSnapshot), typeof(DataProducerSnapshot), typeof(DataConsumerSnapshot),
        typeof(RouterSnapshot), typeof(RtpObserverSnapshot),
    ];

    /// <summary>Lets Orleans serialise and copy the snapshot records.</summary>
    public static ISerializerBuilder AddFerrySnapshots(this ISerializerBuilder builder) =>
        builder.AddJsonSerializer(Types.Contains, SnapshotJson.Options);
}
