using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Api.Cluster;

/// <summary>The wire format of the HTTP contract: snake_case, enums as snake_case strings.</summary>
internal static class ApiJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>For request bodies: a misspelt field ("max_attempt") is an error, not a silent default, as on the nodes.</summary>
    public static readonly JsonSerializerOptions Strict = new(Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };
}
