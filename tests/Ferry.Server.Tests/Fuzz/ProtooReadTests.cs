using System.Text;
using Ferry.Server.Signaling;

namespace Ferry.Server.Tests.Fuzz;

/// <summary>
/// What the protoo fuzz target found in ProtooConnection's reading of a message (fuzz/findings/protoo):
/// a response whose id or errorCode is not a number, or a message with invalid UTF-8 in a string, threw
/// InvalidOperationException out of the read loop (the connection ended with an unhandled exception).
/// </summary>
public class ProtooReadTests
{
    [Theory]
    [InlineData("""{"response":true,"id":false,"errorReason":"gone"}""")]
    [InlineData("""{"response":true,"id":"7","ok":true}""")]
    [InlineData("""{"response":true,"id":[1],"ok":false}""")]
    public void A_response_whose_id_is_not_a_number_is_dropped(string json)
    {
        Assert.Null(ProtooConnection.Read(Encoding.UTF8.GetBytes(json), out _));
    }

    [Fact]
    public void A_response_whose_error_code_is_not_a_number_answers_500()
    {
        var message = ProtooConnection.Read("""{"response":true,"id":7,"ok":false,"errorCode":"404","errorReason":"gone"}"""u8.ToArray(), out _);
        Assert.NotNull(message);
        Assert.Equal(500, message.Value.ErrorCode);
        Assert.Equal("gone", message.Value.ErrorReason);
        Assert.Equal(7, message.Value.ResponseId);
    }

    [Theory]
    [InlineData("""{"response":true,"id":12,"ok":false,"errorCode":404,"errorReason":"~on""", "\"}")]
    [InlineData("""{"request":true,"id":1,"method":"jo""", "in\",\"data\":{}}")]
    [InlineData("""{"response":true,"id":12,""", "\":404}")]
    public void A_message_with_invalid_utf8_is_dropped(string before, string after)
    {
        byte[] bytes = [.. Encoding.UTF8.GetBytes(before), 0xFF, 0x81, .. Encoding.UTF8.GetBytes(after)];
        Assert.Null(ProtooConnection.Read(bytes, out var dropped));
        Assert.Equal("invalid UTF-8", dropped);
    }

    [Fact]
    public void Requests_and_responses_still_read()
    {
        var request = ProtooConnection.Read("""{"request":true,"id":"a","method":"join","data":{"x":1}}"""u8.ToArray(), out _);
        Assert.True(request?.IsRequest);
        Assert.Equal("join", request!.Value.Method);
        Assert.Equal("\"a\"", request.Value.Id.GetRawText());
        Assert.Equal(1, request.Value.Data.GetProperty("x").GetInt32());
        var response = ProtooConnection.Read("""{"response":true,"id":3,"ok":true,"data":{"y":2}}"""u8.ToArray(), out _);
        Assert.True(response is { IsRequest: false, Ok: true, ResponseId: 3 });
        Assert.Equal(2, response.Value.Data.GetProperty("y").GetInt32());
        Assert.Null(ProtooConnection.Read("""{"notification":true,"method":"x"}"""u8.ToArray(), out var dropped));
        Assert.Null(dropped);
    }
}
