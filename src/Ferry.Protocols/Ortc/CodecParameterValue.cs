using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ferry.Protocols.Ortc;

/// <summary>
/// A codec parameter value: a string or a number, never anything else (mediasoup's rule), and the
/// JSON type survives a round trip (<c>"apt": 101</c> stays a number, <c>"profile-level-id": "42e01f"</c> a string).
/// </summary>
[JsonConverter(typeof(CodecParameterValueConverter))]
public readonly record struct CodecParameterValue
{
    private CodecParameterValue(string? text, double number)
    {
        Text = text;
        Number = number;
    }

    /// <summary>The string, when this is a string.</summary>
    public string? Text { get; }

    /// <summary>The number, when this is a number.</summary>
    public double Number { get; }

    /// <summary>True for a string value.</summary>
    public bool IsString => Text is not null;

    /// <summary>A string value.</summary>
    public static implicit operator CodecParameterValue(string text) => new(text ?? throw new ArgumentNullException(nameof(text)), 0);

    /// <summary>A number value.</summary>
    public static implicit operator CodecParameterValue(double number) => new(null, number);

    /// <summary>A number value.</summary>
    public static implicit operator CodecParameterValue(int number) => new(null, number);

    /// <summary>The value as an integer when it is a number (or a string holding one).</summary>
    public bool TryGetInt(out int value)
    {
        if (!IsString)
        {
            value = (int)Number;
            return value == Number;
        }
        return int.TryParse(Text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value);
    }

    /// <inheritdoc />
    public override string ToString() => Text ?? Number.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Reads and writes <see cref="CodecParameterValue"/> as a JSON string or number.</summary>
public sealed class CodecParameterValueConverter : JsonConverter<CodecParameterValue>
{
    /// <inheritdoc />
    public override CodecParameterValue Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString()!,
        JsonTokenType.Number => reader.GetDouble(),
        _ => throw new JsonException($"codec parameter values must be strings or numbers, got {reader.TokenType}"),
    };

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, CodecParameterValue value, JsonSerializerOptions options)
    {
        if (value.IsString) writer.WriteStringValue(value.Text);
        else writer.WriteNumberValue(value.Number);
    }
}
