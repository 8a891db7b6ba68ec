using Ferry.RtpObservers;

namespace Ferry.Tests.RtpObservers;

/// <summary>
/// The dominant speaker algorithm on virtual time: 20 ms frames, a decision every 300 ms (the
/// observer's default interval), speakers with a background at -90 dBov who talk at -10 dBov.
/// </summary>
public sealed class DominantSpeakerDetectorTests
{
    private const int Noise = 127 - 90;   // volumes: 127 - (-dBov)
    private const int Speech = 127 - 10;

    private sealed class Scenario
    {
        private readonly Dictionary<string, DominantSpeakerDetector<string>.Speaker> _speakers = [];
        private int _frames;

        public DominantSpeakerDetector<string> Detector { get; } = new();
        public TimeSpan Now { get; private set; } = TimeSpan.FromSeconds(10);
        public List<(string Speaker, TimeSpan At)> Changes { get; } = [];
        public IEnumerable<string> Sequence => Changes.Select(c => c.Speaker);

        public DominantSpeakerDetector<string>.Speaker Add(string name) => _speakers[name] = Detector.Add(name, Now);

        public DominantSpeakerDetector<string>.Speaker this[string name] => _speakers[name];

        /// <summary>Runs <paramref name="ms"/> of frames: each listed speaker sends its volume every 20 ms.</summary>
        public void Run(int ms, params (string Name, int Volume)[] levels)
        {
            for (var i = 0; i < ms / 20; i++)
            {
                Now += TimeSpan.FromMilliseconds(20);
                foreach (var (name, volume) in levels) _speakers[name].LevelChanged(volume, Now);
                if (++_frames % 15 == 0) Decide();
            }
        }

        public void Decide()
        {
            if (Detector.Decide(Now) is { } d) Changes.Add((d, Now));
        }
    }

    [Fact]
    public void A_short_burst_does_not_take_over_from_a_talking_speaker_but_sustained_speech_does()
    {
        var s = new Scenario();
        s.Add("a");
        s.Add("b");
        s.Run(600, ("a", Noise), ("b", Noise));
        // Nobody talks: the first speaker added is nominated at the first decision.
        Assert.Equal(["a"], s.Sequence);

        s.Run(1000, ("a", Speech), ("b", Noise));
        // a pauses for breath and b interjects: b leads on the immediate and medium scales, but a's
        // last second still outweighs b's on the long one.
        s.Run(200, ("a", Noise), ("b", Speech));
        s.Decide();
        s.Run(1000, ("a", Speech), ("b", Noise));
        Assert.Equal(["a"], s.Sequence);

        var bStarts = s.Now;
        s.Run(2000, ("a", Noise), ("b", Speech));
        Assert.Equal(["a", "b"], s.Sequence);
        // b must out-talk a's last second on the long scale: more than half of the window.
        var delay = s.Changes[1].At - bStarts;
        Assert.InRange(delay, TimeSpan.FromMilliseconds(501), TimeSpan.FromMilliseconds(1000));
    }

    [Fact]
    public void Against_a_silent_dominant_speaker_one_full_medium_block_of_speech_is_needed()
    {
        var s = new Scenario();
        s.Add("a");
        s.Add("b");
        s.Run(600, ("a", Noise), ("b", Noise));
        Assert.Equal(["a"], s.Sequence);

        // Four frames (80 ms) of speech: active on the immediate and medium scales, not yet on the long one.
        s.Run(40, ("a", Noise), ("b", Noise));
        s.Run(80, ("a", Noise), ("b", Speech));
        s.Decide();
        Assert.Equal(["a"], s.Sequence);

        // The fifth frame completes a block: b now leads on all three scales.
        s.Run(20, ("a", Noise), ("b", Speech));
        s.Decide();
        Assert.Equal(["a", "b"], s.Sequence);
    }

    [Fact]
    public void A_speaker_is_measured_against_its_own_background_so_a_constant_level_is_silence()
    {
        var s = new Scenario();
        s.Add("a");
        s.Add("b");
        // b never drops below -10 dBov: that is its background, however loud.
        s.Run(3000, ("a", Noise), ("b", Speech));
        Assert.Equal(["a"], s.Sequence);

        // Once b has been quieter, the same level is speech.
        s.Run(400, ("a", Noise), ("b", Noise));
        s.Run(1000, ("a", Noise), ("b", Speech));
        Assert.Equal(["a", "b"], s.Sequence);
    }

    [Fact]
    public void A_source_that_stops_sending_fades_to_silence()
    {
        var s = new Scenario();
        s.Add("a");
        s.Add("b");
        s.Run(600, ("a", Noise), ("b", Noise));
        s.Run(1200, ("a", Speech), ("b", Noise));
        Assert.Equal(["a"], s.Sequence);

        // a stops sending (DTX, mute, loss): its missing frames count as silence.
        var bStarts = s.Now;
        s.Run(2000, ("b", Speech));
        Assert.Equal(["a", "b"], s.Sequence);
        Assert.InRange(s.Changes[1].At - bStarts, TimeSpan.FromMilliseconds(501), TimeSpan.FromMilliseconds(1000));
    }

    [Fact]
    public void A_paused_speaker_cannot_challenge_and_losing_the_dominant_one_nominates_another()
    {
        var s = new Scenario();
        s.Add("a");
        var b = s.Add("b");
        var c = s.Add("c");
        b.Paused = true;
        s.Run(600, ("a", Noise), ("b", Noise), ("c", Noise));
        s.Run(2000, ("a", Noise), ("b", Speech), ("c", Noise));
        Assert.Equal(["a"], s.Sequence);

        // The dominant speaker leaves: the first remaining one that is not paused is nominated.
        var detector = s.Detector;
        Assert.Equal("a", detector.Dominant);
        Assert.False(detector.Remove(c));
        s.Decide();
        Assert.Equal(["a"], s.Sequence);
        s.Add("d");
        b.Paused = false;
        Assert.True(detector.Remove(s["a"]));
        Assert.Null(detector.Dominant);
        s.Decide();
        Assert.Equal(["a", "b"], s.Sequence);
        Assert.Equal(2, detector.Count);
    }

    [Fact]
    public void Immediate_scores_follow_the_paper_formula()
    {
        // ln C(13, k) + 13 ln 0.5 - ln 0.78 + 0.78 k, floored at 1e-10.
        Assert.Equal(1e-10, DominantSpeakerDetector<string>.ImmediateScoreOf(0));
        Assert.Equal(1e-10, DominantSpeakerDetector<string>.ImmediateScoreOf(3));
        Assert.Equal(Math.Log(715) + 13 * Math.Log(0.5) - Math.Log(0.78) + 0.78 * 4, DominantSpeakerDetector<string>.ImmediateScoreOf(4), 9);
        Assert.Equal(4.8299, DominantSpeakerDetector<string>.ImmediateScoreOf(9), 3);
    }
}
