using System.Net;
using System.Text.Json;
using Flotilla.Client;

namespace Flotilla.Api.Nodes;

/// <summary>A node's answer, buffered (bodies are small and bounded), with the headers the Api passes on.</summary>
internal sealed record NodeAnswer(Uri Node, HttpStatusCode Status, byte[] Body, string? Location, string? RetryAfter)
{
    public bool IsSuccess => (int)Status is >= 200 and < 300;

    public T Read<T>() => JsonSerializer.Deserialize<T>(Body, FlotillaJson.Options)
        ?? throw new JsonException($"{Node} answered {(int)Status} with an empty body.");
}
