using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Ferry.Native;

/// <summary>
/// A sockaddr_in or sockaddr_in6 held by value (28 bytes), so a received packet's source can be
/// kept, compared and replied to without allocating an <see cref="IPEndPoint"/>.
/// </summary>
internal unsafe struct SockAddr : IEquatable<SockAddr>
{
    public const int Capacity = 28;
    private fixed byte _bytes[Capacity];

    /// <summary>Bytes of the address in use (16 for IPv4, 28 for IPv6, 0 when empty).</summary>
    public int Length;

    public readonly bool IsEmpty => Length == 0;

    public readonly int Family
    {
        get { fixed (byte* p = _bytes) return Length == 0 ? 0 : *(ushort*)p; }
    }

    /// <summary>Port in host order.</summary>
    public readonly int Port
    {
        get { fixed (byte* p = _bytes) return Length == 0 ? 0 : BinaryPrimitives.ReadUInt16BigEndian(new ReadOnlySpan<byte>(p + 2, 2)); }
    }

    public Span<byte> AsSpan() { fixed (byte* p = _bytes) return new Span<byte>(p, Capacity); }

    public readonly ReadOnlySpan<byte> Bytes
    {
        get { fixed (byte* p = _bytes) return new ReadOnlySpan<byte>(p, Length); }
    }

    public static SockAddr From(IPEndPoint endpoint)
    {
        var a = default(SockAddr);
        var span = a.AsSpan();
        span.Clear();
        if (endpoint.AddressFamily == AddressFamily.InterNetwork)
        {
            BitConverter.TryWriteBytes(span, (ushort)Libc.AF_INET);
            BinaryPrimitives.WriteUInt16BigEndian(span[2..], (ushort)endpoint.Port);
            endpoint.Address.TryWriteBytes(span.Slice(4, 4), out _);
            a.Length = 16;
        }
        else if (endpoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            BitConverter.TryWriteBytes(span, (ushort)Libc.AF_INET6);
            BinaryPrimitives.WriteUInt16BigEndian(span[2..], (ushort)endpoint.Port);
            endpoint.Address.TryWriteBytes(span.Slice(8, 16), out _);
            BitConverter.TryWriteBytes(span[24..], (uint)endpoint.Address.ScopeId);
            a.Length = 28;
        }
        else
        {
            throw new ArgumentException($"unsupported address family {endpoint.AddressFamily}", nameof(endpoint));
        }
        return a;
    }

    public readonly IPEndPoint ToEndPoint()
    {
        fixed (byte* p = _bytes)
        {
            var span = new ReadOnlySpan<byte>(p, Capacity);
            return Family switch
            {
                Libc.AF_INET => new IPEndPoint(new IPAddress(span.Slice(4, 4)), Port),
                Libc.AF_INET6 => new IPEndPoint(new IPAddress(span.Slice(8, 16), BitConverter.ToUInt32(span[24..])), Port),
                _ => new IPEndPoint(IPAddress.None, 0),
            };
        }
    }

    /// <summary>The same address as a <see cref="Ferry.Protocols.Net.TransportTuple"/>, without allocating.</summary>
    public readonly Ferry.Protocols.Net.TransportTuple ToTuple(Ferry.Protocols.Net.TransportProtocol protocol)
    {
        Span<byte> address = stackalloc byte[16];
        fixed (byte* p = _bytes)
        {
            var span = new ReadOnlySpan<byte>(p, Capacity);
            if (Family == Libc.AF_INET)
            {
                address.Clear();
                address[10] = 0xFF;
                address[11] = 0xFF;
                span.Slice(4, 4).CopyTo(address[12..]);
            }
            else
            {
                span.Slice(8, 16).CopyTo(address);
            }
        }
        return new Ferry.Protocols.Net.TransportTuple(address, Port, protocol);
    }

    public readonly bool Equals(SockAddr other) => Bytes.SequenceEqual(other.Bytes);

    public override readonly bool Equals(object? obj) => obj is SockAddr other && Equals(other);

    public override readonly int GetHashCode()
    {
        var h = new HashCode();
        h.AddBytes(Bytes);
        return h.ToHashCode();
    }

    public override readonly string ToString() => Length == 0 ? "(none)" : ToEndPoint().ToString();
}
