namespace Flotilla.Cluster.Tests;

/// <summary>
/// One formed three-node cluster shared by the tests that do not kill anything. Its workers
/// are off: these tests compare the stores' checksums, which running jobs would keep moving.
/// </summary>
public sealed class SharedCluster : IAsyncLifetime
{
    internal TestCluster Cluster { get; } = TestCluster.Create(configure: n => n.Settings["Worker:Enabled"] = "false");

    public Task InitializeAsync() => Cluster.StartAsync();

    public Task DisposeAsync() => Cluster.DisposeAsync().AsTask();
}
