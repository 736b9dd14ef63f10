using Flotilla.Client;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// Three nodes with their workers and the Api in front, started once for every test class of the
/// collection (a start costs seconds; the tests use their own jobs and queues, so they do not interfere).
/// </summary>
public sealed class ApiCluster : IAsyncLifetime
{
    public const string Collection = "api cluster";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private ApiProcess? _api;

    internal TestCluster Cluster { get; } = TestCluster.Create();

    internal ApiProcess Api => _api!;

    internal FlotillaClient Client { get; private set; } = null!;

    /// <summary>What each node had logged by the time the cluster had formed.</summary>
    internal IReadOnlyDictionary<string, string> StartLogs { get; private set; } = new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        try
        {
            await Cluster.StartAsync();
            StartLogs = Cluster.Nodes.ToDictionary(n => n.NodeId, n => n.RecentOutput());
            _api = await ApiProcess.StartAsync(Cluster.Nodes);
            await Cluster.WaitForAsync(() => _api.IsHealthyAsync(), "the Api healthy", Timeout);
            Client = new FlotillaClient(_api.Http);

            // The leader registers the built-in workflows once it leads.
            await Cluster.WaitForAsync(async () => (await Client.ListWorkflowsAsync()).Any(w => w.Name == "sleep"), "built-in workflows", Timeout);
        }
        catch (Exception ex)
        {
            // xunit does not dispose a fixture whose InitializeAsync failed: stop the processes here.
            var output = _api?.RecentOutput();
            await DisposeAsync();
            throw new InvalidOperationException($"Start failed.{Environment.NewLine}{output}", ex);
        }
    }

    public async Task DisposeAsync()
    {
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        await Cluster.DisposeAsync();
    }
}

[CollectionDefinition(ApiCluster.Collection)]
public sealed class ApiClusterCollection : ICollectionFixture<ApiCluster>;
