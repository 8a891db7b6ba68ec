using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Ferry.Protocols.Net;

/// <summary>Transport protocol of a tuple.</summary>
public enum TransportProtocol : byte
{
    /// <summary>UDP.</summary>
    Udp,
    /// <summary>TCP (RFC 4571 framing for ICE-TCP).</summary>
    Tcp,
}

/// <summary>
/// A remote address, port and protocol held by value (IPv4 as IPv4-mapped IPv6), so tuples can key
/// dictionaries and be compared per packet without allocating.
/// </summary>
public readonly struct TransportTuple : IEquatable<TransportTuple>
{
    private readonly ulong _high;
    private readonly ulong _low;

    /// <summary>Creates a tuple from 16 address bytes (IPv4-mapped for IPv4), a port and a protocol.</summary>
    public TransportTuple(ReadOnlySpan<byte> address16, int port, TransportProtocol protocol)
    {
        _high = BinaryPrimitives.ReadUInt64BigEndian(address16);
        _low = BinaryPrimitives.ReadUInt64BigEndian(address16[8..]);
        Port = (ushort)port;
        Protocol = protocol;
    }

    /// <summary>Creates a tuple from an endpoint.</summary>
    public static TransportTuple From(IPEndPoint endpoint, TransportProtocol protocol = TransportProtocol.Udp)
    {
        Span<byte> bytes = stackalloc byte[16];
        var address = endpoint.Address.AddressFamily == AddressFamily.InterNetwork ? endpoint.Address.MapToIPv6() : endpoint.Address;
        address.TryWriteBytes(bytes, out _);
        return new TransportTuple(bytes, endpoint.Port, protocol);
    }

    /// <summary>Port.</summary>
    public ushort Port { get; }

    /// <summary>Protocol.</summary>
    public TransportProtocol Protocol { get; }

    /// <summary>True for an IPv4 address (stored IPv4-mapped).</summary>
    public bool IsIPv4 => _high == 0 && (_low >> 32) == 0xFFFF;

    /// <summary>Writes the 16 address bytes.</summary>
    public void WriteAddress(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _low);
    }

    /// <summary>The address as an <see cref="IPAddress"/> (IPv4 unmapped). Allocates: for the control path.</summary>
    public IPAddress Address
    {
        get
        {
            Span<byte> bytes = stackalloc byte[16];
            WriteAddress(bytes);
            return IsIPv4 ? new IPAddress(bytes[12..]) : new IPAddress(bytes);
        }
    }

    /// <summary>The endpoint. Allocates: for the control path.</summary>
    public IPEndPoint ToEndPoint() => new(Address, Port);

    /// <inheritdoc />
    public bool Equals(TransportTuple other) => _high == other._high && _low == other._low && Port == other.Port && Protocol == other.Protocol;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is TransportTuple other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_high, _low, Port, Protocol);

    /// <summary>Equality.</summary>
    public static bool operator ==(TransportTuple a, TransportTuple b) => a.Equals(b);

    /// <summary>Inequality.</summary>
    public static bool operator !=(TransportTuple a, TransportTuple b) => !a.Equals(b);

    /// <inheritdoc />
    public override string ToString() => $"{Protocol.ToString().ToLowerInvariant()}:{ToEndPoint()}";
}
