using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Client;

/// <summary>A registered workflow (<c>GET /workflows</c>, <c>PUT /workflows/{name}</c>).</summary>
/// <param name="Name">The name jobs refer to.</param>
/// <param name="Sha256">SHA-256 of the module (lowercase hex): modules are stored by content.</param>
/// <param name="RegisteredAt">When this module was registered under the name.</param>
/// <param name="TimeoutMs">The workflow's default run timeout, if set.</param>
/// <param name="SizeBytes">The module's size; only in the answer to a registration.</param>
public sealed record WorkflowView(string Name, string Sha256, DateTimeOffset RegisteredAt, int? TimeoutMs, int? SizeBytes)
{
    /// <summary>Fields a newer server sends that this version does not know.</summary>
    [JsonExtensionData]
    public IDictionary<string, JsonElement>? Extra { get; init; }
}
