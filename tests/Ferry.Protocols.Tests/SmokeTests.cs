using Ferry.Protocols.Srtp;

namespace Ferry.Protocols.Tests;

public class SrtpProfileTests
{
    [Theory]
    [InlineData(SrtpProfile.AesCm128HmacSha1_80, 16, 14, 10, 10)]
    [InlineData(SrtpProfile.AesCm128HmacSha1_32, 16, 14, 4, 10)]
    [InlineData(SrtpProfile.AeadAes128Gcm, 16, 12, 16, 16)]
    [InlineData(SrtpProfile.AeadAes256Gcm, 32, 12, 16, 16)]
    public void Lengths_follow_the_rfcs(SrtpProfile p, int key, int salt, int rtpTag, int rtcpTag)
    {
        Assert.Equal(key, p.MasterKeyLength());
        Assert.Equal(salt, p.MasterSaltLength());
        Assert.Equal(rtpTag, p.SrtpTagLength());
        Assert.Equal(rtcpTag, p.SrtcpTagLength());
        Assert.True(SrtpProfiles.TryParseMediasoupName(p.ToMediasoupName(), out var back));
        Assert.Equal(p, back);
    }
}
