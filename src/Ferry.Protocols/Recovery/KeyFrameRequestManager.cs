using System.Runtime.CompilerServices;

namespace Ferry.Protocols.Recovery;

/// <summary>
/// Decides when a producer's sender is asked for a key frame (PLI or FIR), so that however many
/// consumers ask, the sender gets about one request per stream per second (mediasoup's
/// KeyFrameRequestManager). A request waits up to <see cref="PendingTimeout"/> for the key frame;
/// a second ask meanwhile only marks "retry once if it does not come". With a request delay, asks
/// inside the window after a request are folded into one request when the window ends.
/// Sans-IO: asks, key frames and time go in; SSRCs to request come out of <see cref="PollRequests"/>.
/// </summary>
public sealed partial class KeyFrameRequestManager
{
    private Stream[] _streams = new Stream[4];
    private int _streamCount;

    private struct Stream
    {
        public uint Ssrc;
        public TimeSpan PendingUntil;   // MaxValue when no request is waiting for its key frame
        public bool RetryOnTimeout;
        public TimeSpan DelayUntil;     // end of the keyFrameRequestDelay window; MaxValue when none
        public bool AskedDuringDelay;
        public bool SendNow;
    }

    /// <summary>Creates a manager; <paramref name="requestDelay"/> is mediasoup's keyFrameRequestDelay (0 = none).</summary>
    public KeyFrameRequestManager(TimeSpan requestDelay = default)
    {
        RequestDelay = requestDelay;
    }

    /// <summary>How long a sent request waits for its key frame before a pending retry is sent. 1 s as mediasoup.</summary>
    public static readonly TimeSpan PendingTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Window after a request during which further asks are folded into one.</summary>
    public TimeSpan RequestDelay { get; }

    /// <summary>Requests emitted so far.</summary>
    public long RequestsSent { get; private set; }

    /// <summary>Asks folded into an earlier or later request.</summary>
    public long RequestsCoalesced { get; private set; }

    /// <summary>A consumer (or the API) asks for a key frame on the stream <paramref name="ssrc"/>.</summary>
    public void KeyFrameNeeded(uint ssrc, TimeSpan now)
    {
        ref var s = ref Find(ssrc, create: true);
        if (s.DelayUntil != TimeSpan.MaxValue && now < s.DelayUntil)
        {
            s.AskedDuringDelay = true;
            RequestsCoalesced++;
            return;
        }
        if (s.PendingUntil != TimeSpan.MaxValue && now < s.PendingUntil)
        {
            s.RetryOnTimeout = true;
            RequestsCoalesced++;
            return;
        }
        s.SendNow = true;
    }

    /// <summary>
    /// Forgets what was asked on <paramref name="ssrc"/> (a pending request and a delay window), so the next ask goes at
    /// once: the path to the sender changed and the requests sent before went nowhere.
    /// </summary>
    public void Forget(uint ssrc)
    {
        ref var s = ref Find(ssrc, create: false);
        if (Unsafe.IsNullRef(ref s)) return;
        s.PendingUntil = TimeSpan.MaxValue;
        s.RetryOnTimeout = false;
        s.DelayUntil = TimeSpan.MaxValue;
        s.AskedDuringDelay = false;
    }

    /// <summary>A key frame arrived on <paramref name="ssrc"/>: nothing is pending any more.</summary>
    public void KeyFrameReceived(uint ssrc)
    {
        ref var s = ref Find(ssrc, create: false);
        if (Unsafe.IsNullRef(ref s)) return;
        s.PendingUntil = TimeSpan.MaxValue;
        s.RetryOnTimeout = false;
    }

    /// <summary>Forgets a stream (it ended, or the producer closed).</summary>
    public void RemoveStream(uint ssrc)
    {
        for (var i = 0; i < _streamCount; i++)
        {
            if (_streams[i].Ssrc != ssrc) continue;
            _streams[i] = _streams[--_streamCount];
            return;
        }
    }

    /// <summary>When <see cref="PollRequests"/> next has work.</summary>
    public TimeSpan NextTimeout
    {
        get
        {
            var next = TimeSpan.MaxValue;
            for (var i = 0; i < _streamCount; i++)
            {
                ref var s = ref _streams[i];
                if (s.SendNow) return TimeSpan.Zero;
                if (s.PendingUntil < next) next = s.PendingUntil;
                if (s.AskedDuringDelay && s.DelayUntil < next) next = s.DelayUntil;
            }
            return next;
        }
    }

    /// <summary>Writes the SSRCs to send a PLI/FIR for now into <paramref name="output"/>; returns how many.</summary>
    public int PollRequests(TimeSpan now, Span<uint> output)
    {
        var written = 0;
        for (var i = 0; i < _streamCount && written < output.Length; i++)
        {
            ref var s = ref _streams[i];
            var send = s.SendNow;
            if (s.AskedDuringDelay && now >= s.DelayUntil) send = true;
            if (s.PendingUntil != TimeSpan.MaxValue && now >= s.PendingUntil)
            {
                // The key frame never came: retry once if someone asked meanwhile, else give up waiting.
                send |= s.RetryOnTimeout;
                s.PendingUntil = TimeSpan.MaxValue;
                s.RetryOnTimeout = false;
            }
            if (!send)
            {
                if (s.DelayUntil != TimeSpan.MaxValue && now >= s.DelayUntil) s.DelayUntil = TimeSpan.MaxValue;
                continue;
            }
            output[written++] = s.Ssrc;
            RequestsSent++;
            s.SendNow = false;
            s.AskedDuringDelay = false;
            s.RetryOnTimeout = false;
            s.PendingUntil = now + PendingTimeout;
            s.DelayUntil = RequestDelay > TimeSpan.Zero ? now + RequestDelay : TimeSpan.MaxValue;
        }
        return written;
    }

    private ref Stream Find(uint ssrc, bool create)
    {
        for (var i = 0; i < _streamCount; i++)
        {
            if (_streams[i].Ssrc == ssrc) return ref _streams[i];
        }
        if (!create) return ref Unsafe.NullRef<Stream>();
        if (_streamCount == _streams.Length) Array.Resize(ref _streams, _streams.Length * 2);
        ref var s = ref _streams[_streamCount++];
        s = new Stream { Ssrc = ssrc, PendingUntil = TimeSpan.MaxValue, DelayUntil = TimeSpan.MaxValue };
        return ref s;
    }
}
