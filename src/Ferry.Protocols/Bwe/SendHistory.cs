namespace Ferry.Protocols.Bwe;

/// <summary>
/// What was sent with each transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01
/// §2): size and send time, kept in a fixed ring so feedback can be matched to it without allocating.
/// Sequence numbers are extended to 64 bits as they are sent (they go up by one per packet).
/// </summary>
internal sealed class SendHistory
{
    /// <summary>Slots in the ring: about 4 s at 1,000 packets a second, while feedback comes every 100 ms or so.</summary>
    public const int Capacity = 4096;

    private const byte Empty = 0, Sent = 1, ReportedLost = 2, ReportedReceived = 3;

    private readonly long[] _sequence = new long[Capacity];
    private readonly int[] _size = new int[Capacity];
    private readonly long[] _sentMicroseconds = new long[Capacity];
    private readonly byte[] _state = new byte[Capacity];
    private readonly bool[] _padding = new bool[Capacity];
    private long _highest = -1;

    /// <summary>The highest extended sequence number sent, -1 before the first.</summary>
    public long Highest => _highest;

    /// <summary>Records a packet as sent; returns its extended sequence number.</summary>
    public long Record(ushort sequence, int size, long sentMicroseconds, bool padding)
    {
        // Start a cycle up so the first packets never extend below zero.
        var extended = _highest < 0 ? 65536L + sequence : _highest + (short)(ushort)(sequence - (ushort)_highest);
        if (extended > _highest) _highest = extended;
        var slot = (int)(extended & (Capacity - 1));
        _sequence[slot] = extended;
        _size[slot] = size;
        _sentMicroseconds[slot] = sentMicroseconds;
        _state[slot] = Sent;
        _padding[slot] = padding;
        return extended;
    }

    /// <summary>
    /// The slot of a reported sequence number: the most recent send with those 16 bits, when it is still in
    /// the ring. -1 for a number never sent or sent too long ago.
    /// </summary>
    public int Find(ushort sequence)
    {
        if (_highest < 0) return -1;
        var behind = (ushort)((ushort)_highest - sequence);
        if (behind >= Capacity) return -1;
        var extended = _highest - behind;
        var slot = (int)(extended & (Capacity - 1));
        return _state[slot] != Empty && _sequence[slot] == extended ? slot : -1;
    }

    public int Size(int slot) => _size[slot];

    public long SentMicroseconds(int slot) => _sentMicroseconds[slot];

    public bool IsPadding(int slot) => _padding[slot];

    /// <summary>True when the packet was already reported received (a repeat of an earlier feedback).</summary>
    public bool WasReportedReceived(int slot) => _state[slot] == ReportedReceived;

    /// <summary>True when the packet was already reported lost.</summary>
    public bool WasReportedLost(int slot) => _state[slot] == ReportedLost;

    public void MarkReceived(int slot) => _state[slot] = ReportedReceived;

    public void MarkLost(int slot) => _state[slot] = ReportedLost;
}
