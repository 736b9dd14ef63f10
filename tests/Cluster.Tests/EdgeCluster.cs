namespace Flotilla.Cluster.Tests;

/// <summary>
/// Three real nodes (workers off, so stores settle) and the real Api in front of them, shared by
/// the tests that probe the HTTP edge: the cluster secret and hostile input.
/// </summary>
public sealed class EdgeCluster : IAsyncLifetime
{
    internal TestCluster Cluster { get; } = TestCluster.Create(configure: n => n.Settings["Worker:Enabled"] = "false");

    internal ApiProcess Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        try
        {
            await Cluster.StartAsync();
            Api = await ApiProcess.StartAsync(Cluster.Nodes);
            await Cluster.WaitForAsync(() => Api.IsHealthyAsync(), "the Api healthy", TimeSpan.FromSeconds(60));
        }
        catch
        {
            // xunit does not dispose a fixture whose InitializeAsync failed: stop the processes here.
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (Api is not null)
        {
            await Api.DisposeAsync();
        }

        await Cluster.DisposeAsync();
    }

    /// <summary>A leader's follower (forwarding is exercised through it).</summary>
    internal async Task<NodeProcess> FollowerAsync()
    {
        var leader = await Cluster.WaitForAgreedLeaderAsync(Cluster.Nodes, TimeSpan.FromSeconds(30));
        return Cluster.Nodes.First(n => n.NodeId != leader);
    }
}

[CollectionDefinition(Name)]
public sealed class EdgeCollection : ICollectionFixture<EdgeCluster>
{
    public const string Name = "edge";
}
