using System.Buffers.Binary;
using System.Net;
using Ferry.Protocols.Bwe;
using Ferry.Protocols.Rtcp;
using Ferry.Testing.Simulation;

namespace Ferry.Protocols.Tests.Bwe;

/// <summary>
/// A sender running a <see cref="SendSideBandwidthEstimator"/> and a receiver writing transport-cc feedback
/// with a <see cref="TransportCcBuilder"/>, joined by a simulated path in virtual time. The sender paces
/// 1200-byte packets every 5 ms: media at <see cref="MediaRate"/> (or at the estimate when unset), plus the
/// padding the estimator asks for when <see cref="WantedRate"/> is above the media.
/// </summary>
internal sealed class BweLink
{
    private const int PacketSize = 1200;
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan FeedbackInterval = TimeSpan.FromMilliseconds(100);

    private readonly IPEndPoint _senderAddress = SimAddress.Loopback(1, 5000);
    private readonly IPEndPoint _receiverAddress = SimAddress.Loopback(2, 5000);
    private readonly TransportCcBuilder _builder = new();
    private readonly byte[] _packet = new byte[PacketSize];
    private readonly byte[] _feedback = new byte[1500];
    private TimeSpan _nextSend;
    private TimeSpan _nextFeedback;
    private double _credit;
    private ushort _sequence;

    public BweLink(int seed, long initialBitrate, long capacity, TimeSpan? latency = null)
    {
        Network = new SimNetwork(seed);
        Estimator = new SendSideBandwidthEstimator(initialBitrate);
        Estimator.SetDesiredBitrate(20_000_000, TimeSpan.Zero);
        Latency = latency ?? TimeSpan.FromMilliseconds(25);
        SetPath(capacity);
        Network.SetLink(_receiverAddress, _senderAddress, new LinkConditions { Latency = Latency, Jitter = TimeSpan.FromMilliseconds(2) });
        Network.Attach(_senderAddress, new DelegateNode(OnSenderDatagram, () => _nextSend, OnSenderTick));
        Network.Attach(_receiverAddress, new DelegateNode(OnReceiverDatagram, () => _nextFeedback, OnReceiverTick));
    }

    public SimNetwork Network { get; }
    public SendSideBandwidthEstimator Estimator { get; }
    public TimeSpan Latency { get; }

    /// <summary>Media bitrate the application sends (null: whatever the estimate allows).</summary>
    public long? MediaRate { get; set; }

    /// <summary>What the application would send with room (padding fills toward it); 0 for no padding.</summary>
    public long WantedRate { get; set; }

    /// <summary>Bytes of padding sent so far.</summary>
    public long PaddingBytes { get; private set; }

    /// <summary>Sets the bottleneck from sender to receiver (queue of 300 ms at that rate) and its random loss.</summary>
    public void SetPath(long capacity, double loss = 0) =>
        Network.SetLink(_senderAddress, _receiverAddress, new LinkConditions
        {
            Latency = Latency, Jitter = TimeSpan.FromMilliseconds(2), RateBitsPerSecond = capacity, QueueLimitBytes = (int)Math.Max(capacity * 3 / 80, 10 * PacketSize), Loss = loss,
        });

    /// <summary>Runs for <paramref name="duration"/>, sampling the estimate every 100 ms into the list returned.</summary>
    public List<(TimeSpan At, long Bitrate)> Run(TimeSpan duration)
    {
        var samples = new List<(TimeSpan, long)>();
        var end = Network.Now + duration;
        while (Network.Now < end)
        {
            Network.RunFor(TimeSpan.FromMilliseconds(100));
            samples.Add((Network.Now, Estimator.AvailableBitrate));
        }
        return samples;
    }

    private void OnSenderTick(SimNetwork network)
    {
        var now = network.Now;
        var media = MediaRate ?? Estimator.AvailableBitrate;
        var padding = WantedRate > 0 ? Estimator.PaddingBitrate(media, WantedRate, now) : 0;
        _credit = Math.Min(_credit + (media + padding) * Tick.TotalSeconds / 8, 20 * PacketSize);
        while (_credit >= PacketSize)
        {
            _credit -= PacketSize;
            BinaryPrimitives.WriteUInt16BigEndian(_packet, _sequence);
            Estimator.OnPacketSent(_sequence, PacketSize, now);
            _sequence++;
            network.Send(_senderAddress, _receiverAddress, _packet);
        }
        if (padding > 0) PaddingBytes += (long)(padding * Tick.TotalSeconds / 8);
        _nextSend = now + Tick;
    }

    private void OnSenderDatagram(SimNetwork network, IPEndPoint from, IPEndPoint to, byte[] data)
    {
        var e = new RtcpCompoundEnumerator(data);
        while (e.MoveNext()) Estimator.OnTransportCcFeedback(e.Current, network.Now);
    }

    private void OnReceiverDatagram(SimNetwork network, IPEndPoint from, IPEndPoint to, byte[] data) =>
        _builder.OnPacket(BinaryPrimitives.ReadUInt16BigEndian(data), network.Now.Ticks / 10);

    private void OnReceiverTick(SimNetwork network)
    {
        while (_builder.HasPending)
        {
            var n = _builder.Write(_feedback, 1, 2);
            if (n <= 0) break;
            network.Send(_receiverAddress, _senderAddress, _feedback.AsSpan(0, n));
        }
        _nextFeedback = network.Now + FeedbackInterval;
    }
}
