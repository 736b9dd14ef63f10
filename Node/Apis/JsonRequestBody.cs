using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Flotilla.Node.Apis;

/// <summary>
/// A request body read under <see cref="JsonRequestBody"/>'s rules: the value (and its bytes, when
/// the caller asked to keep them), or the problem.
/// </summary>
internal sealed record JsonBody<T>(T? Value, byte[]? Bytes, ProblemHttpResult? Problem)
    where T : class;

/// <summary>
/// How the HTTP edge reads a JSON body, the same at a node and at the Api (the Api compiles
/// this file), so a hostile body gets the same answer wherever it lands:
/// <list type="bullet">
/// <item>Content-Type <c>application/json</c> (or <c>+json</c>, charset utf-8 if given), else 415;</item>
/// <item>at most <c>limit</c> bytes, else 413 (counted while reading: a chunked body cannot slip past);</item>
/// <item>no byte order mark and valid UTF-8 throughout, else 400;</item>
/// <item>no duplicate property names at any depth (no silent last-wins), else 400;</item>
/// <item>syntax, types and unknown fields as the serializer options say, else 400.</item>
/// </list>
/// A job's payload has its own rules (<c>JobRules.MaxPayloadDepth</c>).
/// </summary>
internal static class JsonRequestBody
{
    /// <summary>One job: a payload of at most 1 MiB plus room for the other fields and JSON escapes.</summary>
    public const int MaxJobBytes = Flotilla.Client.JobRules.MaxPayloadBytes + (64 * 1024);

    /// <summary>A batch: just under Kestrel's default request limit (30,000,000 bytes).</summary>
    public const int MaxBatchBytes = 28 * 1024 * 1024;

    private static readonly byte[] Bom = [0xEF, 0xBB, 0xBF];
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<JsonSerializerOptions, JsonSerializerOptions> NoDuplicates = [];

    /// <param name="keepBytes">True to get the body's bytes back (the Api sends them on); else they are read into a pooled array.</param>
    public static async Task<JsonBody<T>> ReadAsync<T>(HttpRequest request, int limit, JsonSerializerOptions options, CancellationToken token, bool keepBytes = false)
        where T : class
    {
        if (!IsJson(request.ContentType))
        {
            return Fail<T>(415, "Expected JSON.", "Send the body as JSON with Content-Type: application/json (UTF-8).");
        }

        // A batch body is up to megabytes: read into a pooled array, not a new one per request
        // (a new one lands on the large-object heap, which only a full collection frees; the
        // leader's LOH held ~10 MiB more than a follower's).
        var (bytes, length, pooled, tooLarge) = await ReadIntoAsync(request, limit, pooled: !keepBytes, token);
        if (tooLarge is not null)
        {
            return new JsonBody<T>(null, null, tooLarge);
        }

        try
        {
            var body = Parse<T>(bytes.AsSpan(0, length), options);
            return keepBytes && body.Problem is null ? body with { Bytes = bytes ?? [] } : body;
        }
        finally
        {
            if (pooled)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(bytes!);
            }
        }
    }

    private static JsonBody<T> Parse<T>(ReadOnlySpan<byte> body, JsonSerializerOptions options)
        where T : class
    {
        if (body.StartsWith(Bom))
        {
            return Fail<T>(400, "The body is not valid JSON for this route.", "The body starts with a byte order mark; send UTF-8 JSON without one (RFC 8259).");
        }

        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            return Fail<T>(400, "The body is not valid JSON for this route.", "The body is not valid UTF-8.");
        }

        try
        {
            // The value keeps no reference to these bytes (strings and JSON elements are copied).
            var value = body.IsEmpty ? null : JsonSerializer.Deserialize<T>(body, Strict(options));
            return value is null
                ? Fail<T>(400, "Expected a JSON body.", "The body is empty or null.")
                : new JsonBody<T>(value, null, null);
        }
        catch (JsonException ex)
        {
            return Fail<T>(400, "The body is not valid JSON for this route.", ex.Message);
        }
    }

    /// <summary>Reads the body up to <paramref name="limit"/> bytes; a larger one is a 413 before it is all read.</summary>
    public static async Task<(byte[]? Body, ProblemHttpResult? Problem)> ReadBytesAsync(HttpRequest request, int limit, CancellationToken token)
    {
        var (bytes, _, _, tooLarge) = await ReadIntoAsync(request, limit, pooled: false, token);
        return (bytes, tooLarge);
    }

    // The body's bytes in [0, Length) of Bytes: a pooled array when asked for one and the length
    // was declared (the caller returns it), else an array of exactly the body's length.
    private static async Task<(byte[]? Bytes, int Length, bool Pooled, ProblemHttpResult? Problem)> ReadIntoAsync(
        HttpRequest request, int limit, bool pooled, CancellationToken token)
    {
        var tooLarge = TypedResults.Problem($"The body is larger than {limit} bytes.", statusCode: 413, title: "Request too large.");
        if (request.ContentLength > limit)
        {
            return (null, 0, false, tooLarge);
        }

        byte[]? bytes = null;
        try
        {
            if (request.ContentLength is not { } declared)
            {
                var (chunked, problem) = await ReadChunkedAsync(request.Body, limit, tooLarge, token);
                return (chunked, chunked?.Length ?? 0, false, problem);
            }

            // A declared length (every client but a chunked one) is read straight into its array:
            // no growing buffer, no 80 KiB scratch chunk zeroed per request.
            var length = (int)declared;
            bytes = pooled ? System.Buffers.ArrayPool<byte>.Shared.Rent(length) : new byte[length];
            await ReadExactlyAsync(request.Body, bytes, length, token);
            return (bytes, length, pooled, null);
        }
        catch (Exception ex)
        {
            if (pooled && bytes is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(bytes);
            }

            if (ex is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
            {
                return (null, 0, false, tooLarge);
            }

            throw;
        }
    }

    private static async Task ReadExactlyAsync(Stream body, byte[] bytes, int length, CancellationToken token)
    {
        var read = 0;
        while (read < length)
        {
            var n = await body.ReadAsync(bytes.AsMemory(read, length - read), token);
            if (n == 0)
            {
                throw new BadHttpRequestException("The body ended before its Content-Length.", StatusCodes.Status400BadRequest);
            }

            read += n;
        }
    }

    private static async Task<(byte[]? Body, ProblemHttpResult? Problem)> ReadChunkedAsync(Stream body, int limit, ProblemHttpResult tooLarge, CancellationToken token)
    {
        using var buffer = new MemoryStream();
        var chunk = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int read;
            while ((read = await body.ReadAsync(chunk, token)) > 0)
            {
                if (buffer.Length + read > limit)
                {
                    return (null, tooLarge);
                }

                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(chunk);
        }

        return (buffer.ToArray(), null);
    }

    /// <summary>application/json or application/*+json; a charset, if named, must be UTF-8.</summary>
    public static bool IsJson(string? contentType)
    {
        if (contentType is null || !Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media))
        {
            return false;
        }

        var type = media.MediaType.Value ?? "";
        var json = type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
        var charset = media.Charset.Value;
        return json && (charset is null || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase));
    }

    // The caller's options, with duplicate property names refused (at every depth, payloads included).
    private static JsonSerializerOptions Strict(JsonSerializerOptions options) =>
        NoDuplicates.GetValue(options, o => new JsonSerializerOptions(o) { AllowDuplicateProperties = false });

    private static JsonBody<T> Fail<T>(int status, string title, string detail)
        where T : class =>
        new(null, null, TypedResults.Problem(detail, statusCode: status, title: title));
}
