using System.Buffers;
using System.Text.Json;

namespace Flotilla.Node.Store;

/// <summary>
/// The bytes of a log entry: a <see cref="CommandBatch"/> as UTF-8 JSON. Readable in a log dump,
/// and the polymorphic command records keep their discriminators stable across versions.
/// </summary>
internal static class CommandCodec
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,

        // Payloads and results are JSON inside JSON strings: the default encoder wrote each of
        // their quotes as \u0022 (6 bytes), a fifth of a completion's bytes in the log. This one
        // still escapes quotes, backslashes and control characters (\", valid JSON that decodes
        // to the same values, so older entries and older nodes read it alike); what it leaves
        // alone (<, >, &, non-ASCII) only matters to JSON pasted into HTML, which the log never is.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static byte[] Encode(CommandBatch batch) => JsonSerializer.SerializeToUtf8Bytes(batch, Options);

    /// <summary>Writes the entry's bytes to <paramref name="output"/> (a pooled buffer: see GroupCommit).</summary>
    public static void Encode(CommandBatch batch, IBufferWriter<byte> output)
    {
        // A writer escapes by its own options, not the serializer's: give it the same encoder.
        using var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = Options.Encoder });
        JsonSerializer.Serialize(writer, batch, Options);
    }

    public static CommandBatch Decode(ReadOnlySequence<byte> payload)
    {
        var reader = new Utf8JsonReader(payload);
        return JsonSerializer.Deserialize<CommandBatch>(ref reader, Options)
            ?? throw new JsonException("A log entry held a null command batch.");
    }
}
