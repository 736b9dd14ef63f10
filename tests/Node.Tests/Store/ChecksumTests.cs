using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

public sealed class ChecksumTests : IDisposable
{
    private readonly TempStores _stores = new();

    public void Dispose() => _stores.Dispose();

    [Fact]
    public void StoresThatAppliedTheSameLogHaveIdenticalChecksums()
    {
        var node1 = _stores.Open("node1");
        var node2 = _stores.Open("node2");

        ReplicatedLog.ApplyAll(_stores, node1);
        ReplicatedLog.ApplyAll(_stores, node2);

        Assert.Equal(node1.Checksum(), node2.Checksum());
        Assert.Equal(node1.ListJobs(new JobQuery(Limit: 1000)), node2.ListJobs(new JobQuery(Limit: 1000)));
        Assert.Matches("^[0-9a-f]{64}$", node1.Checksum());

        // The log exercised the paths it claims to: a claim, a retry, a rescue, a cancel.
        var counts = node1.CountByStatus();
        Assert.True(counts[JobStatus.Running] > 0);
        Assert.Equal(1, counts[JobStatus.Completed]);
        Assert.Equal(1, counts[JobStatus.Cancelled]);
        Assert.Contains(node1.ListJobs(new JobQuery(Limit: 1000)), j => j.Error?.StartsWith("lease expired", StringComparison.Ordinal) == true);
    }

    [Fact]
    public void ADifferingRowChangesTheChecksum()
    {
        var node1 = _stores.Open("node1");
        var node2 = _stores.Open("node2");
        var node3 = _stores.Open("node3");
        _stores.Submit(node1, 1_000, TempStores.NewJob("a", payload: """{"n":1}"""));
        _stores.Submit(node2, 1_000, TempStores.NewJob("a", payload: """{"n":2}"""));
        _stores.Submit(node3, 1_001, TempStores.NewJob("a", payload: """{"n":1}"""));

        Assert.NotEqual(node1.Checksum(), node2.Checksum());
        Assert.NotEqual(node1.Checksum(), node3.Checksum());
    }

    [Fact]
    public void AppliedIndexIsPartOfTheChecksum()
    {
        var node1 = _stores.Open("node1");
        var node2 = _stores.Open("node2");
        Assert.Equal(node1.Checksum(), node2.Checksum());

        node2.MarkApplied(1);

        Assert.NotEqual(node1.Checksum(), node2.Checksum());
    }
}
