using System.Buffers;
using System.Text.Json;

namespace Flotilla.Node.Store;

/// <summary>
/// The bytes of a log entry: a <see cref="CommandBatch"/>, written in the binary form
/// (<see cref="BinaryCommandCodec"/>). Entries written before it existed are UTF-8 JSON, with the
/// polymorphic command records' discriminators, and still decode; the JSON options also serve
/// the nodes' forwarding route and the commands the binary form carries as JSON.
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

    public static byte[] Encode(CommandBatch batch)
    {
        var output = new ArrayBufferWriter<byte>();
        Encode(batch, output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Writes the entry's bytes to <paramref name="output"/> (a pooled buffer: see GroupCommit).</summary>
    public static void Encode(CommandBatch batch, IBufferWriter<byte> output) => BinaryCommandCodec.Encode(batch, output);

    /// <summary>The JSON form, as entries were written before the binary one (kept for tests of old entries).</summary>
    public static byte[] EncodeJson(CommandBatch batch) => JsonSerializer.SerializeToUtf8Bytes(batch, Options);

    /// <summary>Reads an entry of either form; a malformed one throws <see cref="JsonException"/> or <see cref="InvalidDataException"/>.</summary>
    public static CommandBatch Decode(ReadOnlySequence<byte> payload)
    {
        if (!payload.IsEmpty && BinaryCommandCodec.IsMarker(payload.FirstSpan[0]))
        {
            return payload.IsSingleSegment
                ? BinaryCommandCodec.Decode(payload.FirstSpan)
                : BinaryCommandCodec.Decode(payload.ToArray());
        }

        var reader = new Utf8JsonReader(payload);
        return JsonSerializer.Deserialize<CommandBatch>(ref reader, Options)
            ?? throw new JsonException("A log entry held a null command batch.");
    }
}
