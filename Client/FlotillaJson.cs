using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Client;

/// <summary>
/// The JSON of Flotilla's HTTP contract: property names and enum values in snake_case, ISO-8601
/// times, web defaults otherwise. The one options set nodes, the Api, tests and this client use.
/// Request records that must be strict say so themselves (<see cref="SubmitJobRequest"/> refuses
/// unknown fields); response records keep fields a newer server adds.
/// </summary>
public static class FlotillaJson
{
    /// <summary>Read-only options for the wire format.</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    /// <summary>Applies the wire format to options owned by someone else (ASP.NET Core's <c>JsonOptions</c>).</summary>
    public static void Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
    }

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Configure(options);
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
