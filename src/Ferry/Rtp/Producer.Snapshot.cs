using System.Text.Json;
using Ferry.Mobility;
using Ferry.Protocols.Ortc;

namespace Ferry.Rtp;

public sealed partial class Producer
{
    /// <summary>
    /// This producer's state at <paramref name="now"/> as plain data (see <see cref="ProducerSnapshot"/>).
    /// Run on its loop; synchronous. The packet store is not carried.
    /// </summary>
    internal ProducerSnapshot ExportSnapshot(TimeSpan now)
    {
        Loop.AssertOnLoop();
        return new ProducerSnapshot
        {
            Id = Id,
            Kind = Kind == MediaKind.Audio ? "audio" : "video",
            Type = TypeName(Type),
            RtpParameters = JsonSerializer.Serialize(RtpParameters, OrtcJson.Default.RtpParameters),
            Paused = _paused,
            KeyFrameRequestDelayMicros = _keyFrames.RequestDelay.Ticks / 10,
            Streams = Streams.Select(s => s.ExportSnapshot(now)).ToArray(),
            KeyFrameRequests = _keyFrames.ExportState(now),
        };
    }

    /// <summary>
    /// Takes over a snapshot's stream state (learnt SSRCs, statistics, NACK and key frame request state),
    /// times rebased on <paramref name="now"/>. Call on the loop, before the producer is in its transport's listener.
    /// </summary>
    internal void ImportSnapshotState(ProducerSnapshot s, TimeSpan now)
    {
        for (var i = 0; i < Streams.Length && i < s.Streams.Count; i++) Streams[i].ImportSnapshot(s.Streams[i], now);
        _keyFrames.ImportState(s.KeyFrameRequests, now);
        // Scores carried over are not a change: no scorechange for them at the first report.
        _lastScores = Streams.Select(st => st.Score).ToArray();
        var next = _keyFrames.NextTimeout;
        foreach (var st in Streams)
        {
            if (st.Nack is { } nack && nack.NextTimeout < next) next = nack.NextTimeout;
        }
        if (next != TimeSpan.MaxValue) ArmTimer(next);
    }

    /// <summary>Undoes the construction of a producer an import refused before registering it: its timer and stores.</summary>
    internal void DiscardUnregistered()
    {
        _closed = true;
        Transport.ReleaseOwnedTimer(_timer);
        foreach (var s in Streams) s.Store?.Dispose();
    }

    internal static string TypeName(ProducerType type) => type switch
    {
        ProducerType.Simulcast => "simulcast",
        ProducerType.Svc => "svc",
        _ => "simple",
    };
}
