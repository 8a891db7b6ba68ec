using System.Diagnostics;
using Ferry.Protocols.Rtcp;
using Ferry.Protocols.Rtp;
using Ferry.Testing.Clients;

namespace Ferry.Tests.Transports;

/// <summary>
/// A camera for the bandwidth tests: VP8 streams (one per SSRC) at a given bitrate and 30 frames a second in
/// real time, frames split into packets of at most 1000 bytes, a key frame every two seconds and at once
/// after a PLI for the stream, as an encoder answers one. With <c>temporalLayers</c>, each stream is L1T3 as
/// libwebrtc sends it (layers 0,2,1,2, frames of equal size so the layers cost 1/4, 1/2 and all of the
/// bitrate, PictureID and TL0PICIDX, the Y bit on the first layer 2 and layer 1 frames of every
/// <c>syncEvery</c> frames) and no periodic key frame.
/// </summary>
internal sealed class MediaPump : IAsyncDisposable
{
    private const int Fps = 30;
    private const int MaxPacket = 1000;
    private static readonly int[] TemporalPattern = [0, 2, 1, 2];
    private readonly WebRtcTestClient _sender;
    private readonly (uint Ssrc, long Bitrate)[] _streams;
    private readonly ushort[] _seq;
    private readonly bool[] _keyRequested;
    private readonly int[] _patternStart;
    private readonly byte[] _tl0;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _task;
    private readonly bool _temporal;
    private readonly int _syncEvery;
    private int _rtcpSeen;

    public MediaPump(WebRtcTestClient sender, params (uint Ssrc, long Bitrate)[] streams) : this(sender, false, 0, streams)
    {
    }

    public MediaPump(WebRtcTestClient sender, bool temporalLayers, int syncEvery, params (uint Ssrc, long Bitrate)[] streams)
    {
        _sender = sender;
        _streams = streams;
        _temporal = temporalLayers;
        _syncEvery = syncEvery;
        _seq = streams.Select((_, i) => (ushort)(1000 * (i + 1))).ToArray();
        _keyRequested = new bool[streams.Length];
        _patternStart = new int[streams.Length];
        _tl0 = new byte[streams.Length];
        _task = Task.Run(RunAsync);
    }

    /// <summary>Frames sent per stream.</summary>
    public int Frames { get; private set; }

    private async Task RunAsync()
    {
        var clock = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        var payload = new byte[MaxPacket];
        var buffer = new byte[1500];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await timer.WaitForNextTickAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            ReadPlis();
            // Catch up to the wall clock: the rate holds even when this thread wakes late.
            while (Frames < clock.Elapsed.TotalSeconds * Fps)
            {
                for (var i = 0; i < _streams.Length; i++) SendFrame(i, payload, buffer);
                Frames++;
            }
        }
    }

    private void SendFrame(int stream, byte[] payload, byte[] buffer)
    {
        var (ssrc, bitrate) = _streams[stream];
        var key = (_temporal ? Frames == 0 : Frames % (2 * Fps) == 0) || _keyRequested[stream];
        _keyRequested[stream] = false;
        // L1T3: the pattern starts again at a key frame.
        if (key) _patternStart[stream] = Frames;
        var index = Frames - _patternStart[stream];
        var tid = TemporalPattern[index % TemporalPattern.Length];
        var sync = _syncEvery > 0 && index % _syncEvery is 1 or 2;
        if (tid == 0) _tl0[stream]++;
        var remaining = (int)(bitrate / 8 / Fps);
        var first = true;
        while (remaining > 0)
        {
            var size = Math.Min(remaining, MaxPacket);
            remaining -= size;
            Array.Clear(payload);
            if (_temporal)
            {
                payload[0] = first ? (byte)0x90 : (byte)0x80;                        // X=1, S=1 on the first packet
                payload[1] = 0xE0;                                                   // I=1, L=1, T=1
                payload[2] = (byte)(0x80 | (Frames >> 8) & 0x7F);                   // M=1, PictureID high
                payload[3] = (byte)Frames;
                payload[4] = _tl0[stream];                                           // TL0PICIDX
                payload[5] = (byte)(tid << 6 | (sync ? 0x20 : 0));                  // TID, Y
                payload[6] = first && key ? (byte)0x00 : (byte)0x01;                // VP8 payload header P bit
                BitConverter.TryWriteBytes(payload.AsSpan(8), Frames);
            }
            else
            {
                payload[0] = first ? (byte)0x10 : (byte)0x00;              // S=1 and partition 0 on the first packet
                payload[1] = first && key ? (byte)0x00 : (byte)0x01;     // VP8 payload header P bit (0: key frame)
                BitConverter.TryWriteBytes(payload.AsSpan(4), Frames);
            }
            var w = new RtpPacketWriter(buffer, 96, _seq[stream]++, (uint)(Frames * (90000 / Fps)), ssrc, marker: remaining == 0);
            w.AddExtension(4, "0"u8);
            var length = w.SetPayload(payload.AsSpan(0, Math.Max(size, 12)));
            try
            {
                _sender.SendRtp(buffer.AsSpan(0, length));
            }
            catch (InvalidOperationException)
            {
                return;
            }
            first = false;
        }
    }

    private void ReadPlis()
    {
        var all = _sender.ReceivedRtcp.ToArray();
        for (; _rtcpSeen < all.Length; _rtcpSeen++)
        {
            var e = new RtcpCompoundEnumerator(all[_rtcpSeen]);
            while (e.MoveNext())
            {
                if (e.Current.Type != RtcpPacketType.PayloadFeedback || e.Current.Count != RtcpPacketType.FmtPli) continue;
                if (!PictureLossIndication.TryParse(e.Current, out _, out var mediaSsrc)) continue;
                for (var i = 0; i < _streams.Length; i++) if (_streams[i].Ssrc == mediaSsrc) _keyRequested[i] = true;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _task;
        _stop.Dispose();
    }
}
