using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Api.Workflows;

/// <summary>A registered workflow as the nodes show it; fields the Api does not know yet are kept and passed on.</summary>
internal sealed record WorkflowView(string Name, string Sha256, DateTimeOffset? RegisteredAt)
{
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; init; }
}
