using System.Globalization;

namespace Ferry.Ortc;

/// <summary>H264 profiles that WebRTC negotiates (RFC 6184 §8.1 profile_idc/profile_iop patterns).</summary>
public enum H264Profile
{
    /// <summary>Constrained Baseline.</summary>
    ConstrainedBaseline,
    /// <summary>Baseline.</summary>
    Baseline,
    /// <summary>Main.</summary>
    Main,
    /// <summary>Constrained High.</summary>
    ConstrainedHigh,
    /// <summary>High.</summary>
    High,
    /// <summary>Predictive High 4:4:4.</summary>
    PredictiveHigh444,
}

/// <summary>
/// The profile-level-id fmtp parameter of H264 (RFC 6184 §8.1): three bytes, profile_idc,
/// profile_iop (constraint flags) and level_idc. Parsed into a profile and a level, compared,
/// and turned into the value an answer must carry.
/// </summary>
public readonly record struct H264ProfileLevelId(H264Profile Profile, int Level)
{
    /// <summary>Level 1b: level_idc 11 with constraint_set3 in Baseline-family profiles. Stored as 0.</summary>
    public const int Level1B = 0;

    /// <summary>What a missing profile-level-id means: Constrained Baseline level 3.1 (RFC 6184 §8.1).</summary>
    public static readonly H264ProfileLevelId Default = new(H264Profile.ConstrainedBaseline, 31);

    private static readonly int[] ValidLevels = [Level1B, 10, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52];

    private static readonly (byte Idc, string Iop, H264Profile Profile)[] Patterns =
    [
        (0x42, "x1xx0000", H264Profile.ConstrainedBaseline),
        (0x4D, "1xxx0000", H264Profile.ConstrainedBaseline),
        (0x58, "11xx0000", H264Profile.ConstrainedBaseline),
        (0x42, "x0xx0000", H264Profile.Baseline),
        (0x58, "10xx0000", H264Profile.Baseline),
        (0x4D, "0x0x0000", H264Profile.Main),
        (0x64, "00000000", H264Profile.High),
        (0x64, "00001100", H264Profile.ConstrainedHigh),
        (0xF4, "00000000", H264Profile.PredictiveHigh444),
    ];

    /// <summary>Parses six hex digits; null when malformed or not a WebRTC profile.</summary>
    public static H264ProfileLevelId? Parse(string? text)
    {
        if (text is null || text.Length != 6 || !uint.TryParse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var value) || value == 0)
            return null;
        var idc = (byte)(value >> 16);
        var iop = (byte)(value >> 8);
        var levelIdc = (int)(value & 0xFF);
        int level;
        // Level 1b is level_idc 11 with constraint_set3 (0x10) set.
        if (levelIdc == 11 && (iop & 0x10) != 0) level = Level1B;
        else if (Array.IndexOf(ValidLevels, levelIdc) > 0) level = levelIdc;
        else return null;
        foreach (var (pIdc, pIop, profile) in Patterns)
        {
            if (pIdc == idc && Matches(pIop, iop)) return new H264ProfileLevelId(profile, level);
        }
        return null;
    }

    private static bool Matches(string pattern, byte iop)
    {
        for (var i = 0; i < 8; i++)
        {
            var bit = (iop >> (7 - i)) & 1;
            if (pattern[i] != 'x' && pattern[i] - '0' != bit) return false;
        }
        return true;
    }

    /// <summary>The canonical string for this profile and level; null for level 1b in a High profile (not expressible).</summary>
    public override string ToString()
    {
        if (Level == Level1B)
        {
            return Profile switch
            {
                H264Profile.ConstrainedBaseline => "42f00b",
                H264Profile.Baseline => "42100b",
                H264Profile.Main => "4d100b",
                _ => "",
            };
        }
        var prefix = Profile switch
        {
            H264Profile.ConstrainedBaseline => "42e0",
            H264Profile.Baseline => "4200",
            H264Profile.Main => "4d00",
            H264Profile.ConstrainedHigh => "640c",
            H264Profile.High => "6400",
            _ => "f400",
        };
        return prefix + Level.ToString("x2", CultureInfo.InvariantCulture);
    }

    /// <summary>True when level <paramref name="a"/> is below <paramref name="b"/> (1b sits between 1 and 1.1).</summary>
    public static bool IsLessLevel(int a, int b)
    {
        if (a == Level1B) return b != 10 && b != Level1B;
        if (b == Level1B) return a == 10;
        return a < b;
    }

    /// <summary>
    /// The profile-level-id an answer carries (RFC 6184 §8.2.2 as WebRTC applies it): the profiles must
    /// be equal; the level is the local one when both sides allow level asymmetry, else the lower one.
    /// Returns null when neither side gave one (leave it out), and throws <see cref="ArgumentException"/>
    /// when they cannot be reconciled.
    /// </summary>
    public static string? AnswerFor(string? local, bool localAsymmetry, string? remote, bool remoteAsymmetry)
    {
        if (local is null && remote is null) return null;
        var l = local is null ? Default : Parse(local) ?? throw new ArgumentException($"invalid local profile-level-id {local}");
        var r = remote is null ? Default : Parse(remote) ?? throw new ArgumentException($"invalid remote profile-level-id {remote}");
        if (l.Profile != r.Profile) throw new ArgumentException("H264 profile mismatch");
        var level = localAsymmetry && remoteAsymmetry ? l.Level : IsLessLevel(l.Level, r.Level) ? l.Level : r.Level;
        return new H264ProfileLevelId(l.Profile, level).ToString();
    }
}
