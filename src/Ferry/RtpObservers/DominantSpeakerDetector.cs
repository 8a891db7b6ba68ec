namespace Ferry.RtpObservers;

/// <summary>
/// Dominant speaker identification after I. Volfin and I. Cohen, "Dominant Speaker Identification
/// for Multipoint Videoconferencing" (IEEE 2012), fed with RFC 6464 audio levels instead of the
/// paper's signal-domain voice activity, as mediasoup and Jitsi do. Sans-IO: the caller passes the
/// time, so tests can run it on virtual time.
/// <para>
/// Each speaker keeps about one second of 20 ms frames. Three time scales are scored from them:
/// <list type="bullet">
/// <item>immediate: how many of <c>N1</c> level sub-bands the newest frame fills;</item>
/// <item>medium: how many of the newest <c>N2</c> frames are clearly active;</item>
/// <item>long: how many of the <c>N3</c> medium blocks of the second are wholly active.</item>
/// </list>
/// A score is the log-likelihood ratio of "speech" (a binomial count of active sub-units) against
/// "noise" (an exponential one). Another speaker replaces the dominant one only when it beats it on
/// all three scales by the paper's margins; the long scale is what keeps a short burst (a cough, an
/// interjection) from taking over while the dominant speaker is still talking.
/// </para>
/// </summary>
/// <typeparam name="T">What a speaker stands for (a producer).</typeparam>
internal sealed class DominantSpeakerDetector<T> where T : class
{
    // The paper's parameters, in the values mediasoup and Jitsi settled on for audio-level input.
    internal const int N1 = 13;            // sub-bands of the level range (immediate scale)
    internal const int N2 = 5;             // frames in a medium block
    internal const int N3 = 10;            // medium blocks in the long window
    internal const int FrameCount = N2 * N3;
    private const double C1 = 3, C2 = 2, C3 = 0;   // thresholds on ln(score ratio) per scale
    private const double LambdaImmediate = 0.78, LambdaMedium = 24, LambdaLong = 47;
    private const int MediumThreshold = 7;  // a frame is "active" for the medium scale above this sub-band
    private const int LongThreshold = N2 - 1; // a block is "active" for the long scale when all its frames are
    internal const int MaxLevel = 127;
    private const int SubbandWidth = (MaxLevel + N1 - 1) / N1;
    private const double MinScore = 1e-10;  // keeps every score positive, so ratios and logs stay defined
    // The floor rises only after this many frames (15 s) of evidence that the background got louder.
    private const int NoiseWindowFrames = 15_000 / 20;

    internal static readonly TimeSpan Frame = TimeSpan.FromMilliseconds(20);
    // No level for this long: the source stopped (DTX, mute, loss) and counts as silent meanwhile.
    internal static readonly TimeSpan LevelIdleTimeout = TimeSpan.FromMilliseconds(40);
    // No level for this long: a non-dominant speaker leaves the competition until it sends again.
    internal static readonly TimeSpan SpeakerIdleTimeout = TimeSpan.FromHours(1);

    private static readonly double[] LogBinomialN1 = LogBinomials(N1);
    private static readonly double[] LogBinomialN2 = LogBinomials(N2);
    private static readonly double[] LogBinomialN3 = LogBinomials(N3);

    private readonly List<Speaker> _speakers = [];
    private Speaker? _dominant;

    /// <summary>The current dominant speaker, or null before the first decision.</summary>
    public T? Dominant => _dominant?.Key;

    /// <summary>Speakers taking part.</summary>
    public int Count => _speakers.Count;

    /// <summary>Adds a speaker; the first one added is the first nominated when there is no dominant one.</summary>
    public Speaker Add(T key, TimeSpan now, bool paused = false)
    {
        var speaker = new Speaker(key, now) { Paused = paused };
        _speakers.Add(speaker);
        return speaker;
    }

    /// <summary>Removes a speaker. True when it was the dominant one (there is none until the next decision).</summary>
    public bool Remove(Speaker speaker)
    {
        _speakers.Remove(speaker);
        if (_dominant != speaker) return false;
        _dominant = null;
        return true;
    }

    /// <summary>
    /// Makes the periodic decision. Returns the new dominant speaker when it changed, else null.
    /// </summary>
    public T? Decide(TimeSpan now)
    {
        foreach (var s in _speakers)
        {
            // Fill the frames a silent source did not send, so its history keeps pace with the others'.
            if (now - s.LastFrameTime > LevelIdleTimeout) s.AddLevel(0, now, real: false);
        }
        if (_speakers.Count == 0) return null;

        var dominant = _dominant;
        Speaker? winner = null;
        if (dominant is null)
        {
            // No dominant speaker yet: nominate one and let the others compete with it at once.
            dominant = _speakers.Find(s => !s.Paused);
            if (dominant is null) return null;
            winner = dominant;
        }
        dominant.Evaluate();
        var bestMedium = C2;
        foreach (var s in _speakers)
        {
            if (s == dominant || s.Paused || now - s.LastRealLevelTime > SpeakerIdleTimeout) continue;
            s.Evaluate();
            var c1 = Math.Log(s.ImmediateScore / dominant.ImmediateScore);
            var c2 = Math.Log(s.MediumScore / dominant.MediumScore);
            var c3 = Math.Log(s.LongScore / dominant.LongScore);
            // Several challengers: the one with the strongest medium-term lead wins (the paper's rule).
            if (c1 > C1 && c2 > C2 && c3 > C3 && c2 > bestMedium)
            {
                bestMedium = c2;
                winner = s;
            }
        }
        if (winner is null || winner == _dominant) return null;
        _dominant = winner;
        return winner.Key;
    }

    private static double[] LogBinomials(int n)
    {
        var table = new double[n + 1];
        for (var k = 0; k <= n; k++)
        {
            double log = 0;
            for (var i = 1; i <= k; i++) log += Math.Log(n - k + i) - Math.Log(i);
            table[k] = log;
        }
        return table;
    }

    /// <summary>
    /// The paper's speech activity score for <paramref name="active"/> active sub-units out of
    /// <paramref name="n"/>: ln of a binomial likelihood (p = 0.5) over an exponential one (rate λ).
    /// </summary>
    internal static double Score(int active, int n, double[] logBinomial, double lambda)
    {
        var score = logBinomial[active] + n * Math.Log(0.5) - Math.Log(lambda) + lambda * active;
        return score < MinScore ? MinScore : score;
    }

    internal static double ImmediateScoreOf(int subbands) => Score(subbands, N1, LogBinomialN1, LambdaImmediate);

    /// <summary>One participant: its level history and the scores derived from it.</summary>
    internal sealed class Speaker
    {
        private readonly byte[] _frames = new byte[FrameCount]; // ring of volumes (0 silent .. 127 loudest)
        private int _next;
        private int _noiseFloor;      // lowest non-silent volume seen: this speaker's background
        private int _floorCandidate;
        private int _floorCandidateFrames;

        internal Speaker(T key, TimeSpan now)
        {
            Key = key;
            LastFrameTime = now;
            LastRealLevelTime = now;
        }

        public T Key { get; }

        /// <summary>Its producer is paused: it cannot challenge (it may stay dominant).</summary>
        public bool Paused { get; set; }

        internal TimeSpan LastFrameTime { get; private set; }
        internal TimeSpan LastRealLevelTime { get; private set; }
        internal double ImmediateScore { get; private set; } = MinScore;
        internal double MediumScore { get; private set; } = MinScore;
        internal double LongScore { get; private set; } = MinScore;

        /// <summary>A level from a packet: <paramref name="volume"/> is 127 - RFC 6464's -dBov (so louder is larger).</summary>
        public void LevelChanged(int volume, TimeSpan now) => AddLevel(volume, now, real: true);

        internal void AddLevel(int volume, TimeSpan now, bool real)
        {
            if (now < LastFrameTime) return;
            var volumeByte = (byte)Math.Clamp(volume, 0, MaxLevel);
            // The scales assume one level per 20 ms frame; longer packets (ptime 40/60), DTX or a gap
            // stand for several frames of this level, up to the whole window.
            var frames = (int)Math.Clamp((now - LastFrameTime).Ticks / Frame.Ticks, 1, FrameCount);
            for (var i = 0; i < frames; i++)
            {
                _frames[_next] = volumeByte;
                _next = (_next + 1) % FrameCount;
            }
            LastFrameTime = now;
            if (real) LastRealLevelTime = now;
            TrackNoiseFloor(volumeByte);
        }

        /// <summary>
        /// Speakers differ in background noise; measuring each from its own floor puts them on equal
        /// footing. The floor drops at once to a quieter level and rises slowly (geometric mean with the
        /// lowest level of a 15 s window), so speech does not drag it up.
        /// </summary>
        private void TrackNoiseFloor(byte volume)
        {
            if (volume == 0) return;
            if (_noiseFloor == 0 || volume < _noiseFloor)
            {
                _noiseFloor = volume;
                _floorCandidate = 0;
                _floorCandidateFrames = 0;
                return;
            }
            if (_floorCandidate == 0 || volume < _floorCandidate) _floorCandidate = volume;
            if (++_floorCandidateFrames < NoiseWindowFrames) return;
            _noiseFloor = Math.Clamp((int)Math.Sqrt((double)_noiseFloor * _floorCandidate), 0, MaxLevel);
            _floorCandidate = 0;
            _floorCandidateFrames = 0;
        }

        /// <summary>Recomputes the three scores from the frames, newest first.</summary>
        internal void Evaluate()
        {
            var floor = _noiseFloor + SubbandWidth;
            var newestSubbands = 0;
            var activeBlocks = 0;
            var newestBlockActive = 0;
            for (var block = 0; block < N3; block++)
            {
                var activeFrames = 0;
                for (var f = 0; f < N2; f++)
                {
                    var age = block * N2 + f;
                    var volume = _frames[(_next - 1 - age + FrameCount) % FrameCount];
                    // Within one sub-band of its own floor a speaker is as good as silent.
                    var subbands = volume < floor ? 0 : volume / SubbandWidth;
                    if (age == 0) newestSubbands = subbands;
                    if (subbands > MediumThreshold) activeFrames++;
                }
                if (block == 0) newestBlockActive = activeFrames;
                if (activeFrames > LongThreshold) activeBlocks++;
            }
            ImmediateScore = Score(newestSubbands, N1, LogBinomialN1, LambdaImmediate);
            MediumScore = Score(newestBlockActive, N2, LogBinomialN2, LambdaMedium);
            LongScore = Score(activeBlocks, N3, LogBinomialN3, LambdaLong);
        }
    }
}
