using Flotilla.Node.Cluster;

namespace Flotilla.Node.Tests.Cluster;

public sealed class SnapshotPolicyTests
{
    private const long MiB = 1024 * 1024;
    private static readonly SnapshotPolicy Policy = new(Entries: 100_000, Bytes: 64 * MiB);

    [Fact]
    public void ASmallStoreSnapshotsEveryConfiguredBytesOfLog()
    {
        Assert.False(Policy.IsDue(entriesSince: 10, bytesSince: 64 * MiB - 1, storeBytes: 20 * MiB));
        Assert.True(Policy.IsDue(entriesSince: 10, bytesSince: 64 * MiB, storeBytes: 20 * MiB));
        Assert.True(Policy.IsDue(entriesSince: 10, bytesSince: 64 * MiB, storeBytes: 0));
    }

    [Fact]
    public void ALargeStoreWaitsForHalfItsSizeInLogBytes()
    {
        // 520 MiB: a million finished jobs. A copy per 64 MiB of log was ~8 bytes copied per log byte.
        Assert.False(Policy.IsDue(entriesSince: 10, bytesSince: 64 * MiB, storeBytes: 520 * MiB));
        Assert.False(Policy.IsDue(entriesSince: 10, bytesSince: 260 * MiB - 1, storeBytes: 520 * MiB));
        Assert.True(Policy.IsDue(entriesSince: 10, bytesSince: 260 * MiB, storeBytes: 520 * MiB));
    }

    [Fact]
    public void EnoughEntriesAreDueWhateverTheirSize()
    {
        Assert.True(Policy.IsDue(entriesSince: 100_000, bytesSince: 1, storeBytes: 520 * MiB));
        Assert.False(Policy.IsDue(entriesSince: 99_999, bytesSince: 1, storeBytes: 520 * MiB));
    }
}
