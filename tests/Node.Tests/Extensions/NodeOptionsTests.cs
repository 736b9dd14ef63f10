using Flotilla.Node.Cluster;
using Flotilla.Node.Extensions;
using Flotilla.Node.Worker;
using Flotilla.Node.Workflows;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Tests.Extensions;

/// <summary>A worker or sandbox setting out of range stops the node at start with the key's name, not later in a run.</summary>
public sealed class NodeOptionsTests
{
    [Theory]
    [InlineData("Worker:DefaultTimeoutMs", "0", "Worker:DefaultTimeoutMs must be positive")]
    [InlineData("Worker:DefaultTimeoutMs", "-5", "Worker:DefaultTimeoutMs must be positive")]
    [InlineData("Worker:ShutdownGraceMs", "-1", "Worker:ShutdownGraceMs not negative")]
    [InlineData("Workflows:MaxConcurrentRuns", "0", "Workflows:MaxConcurrentRuns must be positive")]
    [InlineData("Workflows:MaxOutputBytes", "0", "Workflows:MaxOutputBytes and")]
    [InlineData("Workflows:MaxMemoryBytes", "65535", "Workflows:MaxMemoryBytes must be at least 65536")]
    public void AnOutOfRangeSettingIsRefusedByName(string key, string value, string reason)
    {
        using var services = NodeServices((key, value));

        var error = Assert.Throws<OptionsValidationException>(() => key.StartsWith("Worker:", StringComparison.Ordinal)
            ? (object)services.GetRequiredService<IOptions<WorkerOptions>>().Value
            : services.GetRequiredService<IOptions<WorkflowOptions>>().Value);

        Assert.Contains(reason, error.Message);
    }

    [Theory]
    [InlineData("Cluster:LogChunkBytes", "0", "Cluster:LogChunkBytes must be between 4096 and 1073741824")]
    [InlineData("Cluster:LogChunkBytes", "2147483647", "Cluster:LogChunkBytes must be between")]
    [InlineData("Cluster:SnapshotBytes", "0", "Cluster:SnapshotEvery and Cluster:SnapshotBytes must be positive")]
    [InlineData("Cluster:SnapshotEvery", "-1", "Cluster:SnapshotEvery and Cluster:SnapshotBytes must be positive")]
    public void AnOutOfRangeLogOrSnapshotSettingIsRefusedByName(string key, string value, string reason)
    {
        using var services = NodeServices((key, value));

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<ClusterOptions>>().Value);

        Assert.Contains(reason, error.Message);
        Assert.DoesNotContain("Secret", error.Message);
    }

    [Fact]
    public void TheDefaultsAndTheSmallestAllowedValuesPass()
    {
        using var defaults = NodeServices();
        Assert.Equal(30_000, defaults.GetRequiredService<IOptions<WorkerOptions>>().Value.DefaultTimeoutMs);
        Assert.Equal(128, defaults.GetRequiredService<IOptions<WorkflowOptions>>().Value.MaxConcurrentRuns);
        Assert.Equal(16 * 1024 * 1024, defaults.GetRequiredService<IOptions<ClusterOptions>>().Value.LogChunkBytes);

        using var smallest = NodeServices(("Worker:DefaultTimeoutMs", "1"), ("Worker:ShutdownGraceMs", "0"), ("Workflows:MaxMemoryBytes", "65536"), ("Cluster:LogChunkBytes", "4096"));
        Assert.Equal(1, smallest.GetRequiredService<IOptions<WorkerOptions>>().Value.DefaultTimeoutMs);
        Assert.Equal(65536, smallest.GetRequiredService<IOptions<WorkflowOptions>>().Value.MaxMemoryBytes);
        Assert.Equal(4096, smallest.GetRequiredService<IOptions<ClusterOptions>>().Value.LogChunkBytes);
    }

    private static ServiceProvider NodeServices(params (string Key, string Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(
            settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))
                .Append(new("Cluster:DataDir", Path.Combine(Path.GetTempPath(), "flotilla-options-tests")))
                .Append(new("Cluster:Secret", "a-shared-secret-for-the-test")));
        builder.AddRaftMember();
        builder.AddWorkflows();
        builder.AddJobWorker();
        return builder.Services.BuildServiceProvider();
    }
}
