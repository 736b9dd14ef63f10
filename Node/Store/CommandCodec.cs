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
    };

    public static byte[] Encode(CommandBatch batch) => JsonSerializer.SerializeToUtf8Bytes(batch, Options);

    public static CommandBatch Decode(ReadOnlySequence<byte> payload)
    {
        var reader = new Utf8JsonReader(payload);
        return JsonSerializer.Deserialize<CommandBatch>(ref reader, Options)
            ?? throw new JsonException("A log entry held a null command batch.");
    }
}
