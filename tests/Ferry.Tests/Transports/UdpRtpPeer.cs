using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ferry.Protocols;
using Ferry.Protocols.Ortc;
using Ferry.Protocols.Srtp;

namespace Ferry.Tests.Transports;

/// <summary>
/// The far end of a PlainTransport: a System.Net UDP socket on 127.0.0.1 that sends and collects
/// RTP/RTCP, with SDES-keyed SRTP from Ferry.Protocols when given a suite.
/// </summary>
internal sealed class UdpRtpPeer : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiveLoop;
    private readonly SrtpProfile? _profile;
    private readonly byte[]? _localKeyAndSalt;
    private SrtpSession? _send;
    private volatile SrtpSession? _receive;
    private long _srtpFailures;

    public UdpRtpPeer(SrtpProfile? profile = null)
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _profile = profile;
        if (profile is { } p)
        {
            _localKeyAndSalt = new byte[p.MasterKeyLength() + p.MasterSaltLength()];
            RandomNumberGenerator.Fill(_localKeyAndSalt);
            _send = new SrtpSession(p, _localKeyAndSalt.AsSpan(0, p.MasterKeyLength()), _localKeyAndSalt.AsSpan(p.MasterKeyLength()));
        }
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>What the transport is given to decrypt our packets.</summary>
    public SrtpParameters? SrtpParameters => _profile is { } p ? new SrtpParameters { CryptoSuite = p.ToMediasoupName(), KeyBase64 = Convert.ToBase64String(_localKeyAndSalt!) } : null;

    public ConcurrentQueue<byte[]> ReceivedRtp { get; } = new();
    public ConcurrentQueue<byte[]> ReceivedRtcp { get; } = new();
    public ConcurrentQueue<IPEndPoint> Sources { get; } = new();
    public long SrtpFailures => Interlocked.Read(ref _srtpFailures);

    /// <summary>The transport's key (its srtpParameters), to decrypt what it sends.</summary>
    public void SetRemoteKey(SrtpParameters remote)
    {
        SrtpProfiles.TryParseMediasoupName(remote.CryptoSuite, out var profile);
        var keyAndSalt = Convert.FromBase64String(remote.KeyBase64);
        _receive = new SrtpSession(profile, keyAndSalt.AsSpan(0, profile.MasterKeyLength()), keyAndSalt.AsSpan(profile.MasterKeyLength()));
    }

    public void SendRtp(byte[] rtp, int port)
    {
        var buffer = new byte[rtp.Length + 64];
        rtp.CopyTo(buffer, 0);
        var length = rtp.Length;
        if (_send is { } s) Assert.Equal(SrtpResult.Ok, s.ProtectRtp(buffer, length, out length));
        _socket.SendTo(buffer.AsSpan(0, length), new IPEndPoint(IPAddress.Loopback, port));
    }

    public void SendRtcp(byte[] rtcp, int port)
    {
        var buffer = new byte[rtcp.Length + 64];
        rtcp.CopyTo(buffer, 0);
        var length = rtcp.Length;
        if (_send is { } s) Assert.Equal(SrtpResult.Ok, s.ProtectRtcp(buffer, length, out length));
        _socket.SendTo(buffer.AsSpan(0, length), new IPEndPoint(IPAddress.Loopback, port));
    }

    public void SendRaw(byte[] data, int port) => _socket.SendTo(data, new IPEndPoint(IPAddress.Loopback, port));

    private Task ReceiveLoopAsync() => UdpReceiveLoop.RunAsync(_socket, _stop.Token, OnDatagram);

    private void OnDatagram(EndPoint from, Span<byte> data)
    {
        var kind = PacketClassifier.Classify(data);
        var length = data.Length;
        if (_receive is { } r)
        {
            var ok = kind == PacketKind.Rtp ? r.UnprotectRtp(data, data.Length, out length) : r.UnprotectRtcp(data, data.Length, out length);
            if (ok != SrtpResult.Ok) { Interlocked.Increment(ref _srtpFailures); return; }
        }
        Sources.Enqueue((IPEndPoint)from);
        if (kind == PacketKind.Rtp) ReceivedRtp.Enqueue(data[..length].ToArray());
        else if (kind == PacketKind.Rtcp) ReceivedRtcp.Enqueue(data[..length].ToArray());
    }

    /// <summary>Ports free on 127.0.0.1 right now (bound then released), for tests that need fixed ports.</summary>
    public static int[] FreePorts(int count)
    {
        var sockets = Enumerable.Range(0, count).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)).ToList();
        foreach (var s in sockets) s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var ports = sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port).ToArray();
        foreach (var s in sockets) s.Dispose();
        return ports;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try { _receiveLoop.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _send?.Dispose();
        _receive?.Dispose();
        _stop.Dispose();
    }
}
