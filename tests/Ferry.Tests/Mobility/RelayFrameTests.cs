using System.Net;
using Ferry.Mobility.Remote;
using Ferry.Protocols.Net;

namespace Ferry.Tests.Mobility;

/// <summary>The relay's frame header: written and read back, and any other input refused without throwing.</summary>
public sealed class RelayFrameTests
{
    [Theory]
    [InlineData("127.0.0.1:5000")]
    [InlineData("[::1]:65535")]
    public void A_header_reads_back_what_was_written(string endpoint)
    {
        var farEnd = TransportTuple.From(IPEndPoint.Parse(endpoint));
        var frame = new byte[RelayFrame.HeaderLength + 3];
        RelayFrame.WriteHeader(frame, RelayFrameKind.Datagram, 0xDEADBEEF, farEnd);
        frame[^3] = 7;
        Assert.True(RelayFrame.TryRead(frame, 0xDEADBEEF, out var kind, out var read, out var offset));
        Assert.Equal(RelayFrameKind.Datagram, kind);
        Assert.Equal(farEnd, read);
        Assert.Equal(7, frame[offset]);
        // Another move's token, another version, an unknown kind, a short frame: refused.
        Assert.False(RelayFrame.TryRead(frame, 0xDEADBEEE, out _, out _, out _));
        Assert.False(RelayFrame.TryRead(frame.AsSpan(0, RelayFrame.HeaderLength - 1), 0xDEADBEEF, out _, out _, out _));
        frame[1] = 2;
        Assert.False(RelayFrame.TryRead(frame, 0xDEADBEEF, out _, out _, out _));
        frame[1] = RelayFrame.Version;
        frame[0] = 9;
        Assert.False(RelayFrame.TryRead(frame, 0xDEADBEEF, out _, out _, out _));
    }

    [Fact]
    public void Random_and_truncated_input_never_throws_and_is_accepted_only_with_the_token()
    {
        var random = new Random(13);
        var buffer = new byte[64];
        var accepted = 0;
        for (var i = 0; i < 200_000; i++)
        {
            random.NextBytes(buffer);
            var length = random.Next(buffer.Length + 1);
            if (i % 2 == 0 && length >= RelayFrame.HeaderLength)
            {
                // Half the time a header that is right but for what chance gives the kind and version.
                buffer[1] = RelayFrame.Version;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(4), 42);
            }
            if (RelayFrame.TryRead(buffer.AsSpan(0, length), 42, out var kind, out _, out var offset))
            {
                accepted++;
                Assert.True(Enum.IsDefined(kind));
                Assert.True(length >= offset);
            }
        }
        Assert.InRange(accepted, 1, 200_000);
    }
}
