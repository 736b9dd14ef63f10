using Flotilla.Api.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Flotilla.Api.Tests;

/// <summary>The whole Api in memory (routing, validation, problem details, OpenAPI) in front of <see cref="FakeNodes"/>.</summary>
internal sealed class ApiFactory(FakeNodes nodes, IReadOnlyDictionary<string, string>? settings = null) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("Cluster:Nodes", string.Join(',', FakeNodes.Node1, FakeNodes.Node2, FakeNodes.Node3));
        builder.UseSetting("Api:WriteRetryBudget", "00:00:00.300");
        builder.UseSetting("Api:InitialBackoff", "00:00:00.020");
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureTestServices(services =>
        {
            services.RemoveAll<NodeDirectory>();
            services.AddSingleton(_ => nodes.Directory());
        });
    }
}
