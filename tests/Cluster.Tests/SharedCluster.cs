namespace Flotilla.Cluster.Tests;

/// <summary>One formed three-node cluster shared by the tests that do not kill anything.</summary>
public sealed class SharedCluster : IAsyncLifetime
{
    internal TestCluster Cluster { get; } = TestCluster.Create();

    public Task InitializeAsync() => Cluster.StartAsync();

    public Task DisposeAsync() => Cluster.DisposeAsync().AsTask();
}
