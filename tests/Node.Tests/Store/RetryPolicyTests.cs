using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

public sealed class RetryPolicyTests
{
    private const long PinnedFirst = 1185;
    private const long PinnedFourth = 8866;

    [Theory]
    [InlineData(1, 1_000)]
    [InlineData(2, 2_000)]
    [InlineData(3, 4_000)]
    [InlineData(10, 512_000)]
    [InlineData(13, 3_600_000)]
    [InlineData(40, 3_600_000)]
    [InlineData(int.MaxValue, 3_600_000)]
    public void DoublesPerAttemptUpToOneHourPlusUnderAQuarterJitter(int attempt, long baseDelay)
    {
        for (var i = 0; i < 50; i++)
        {
            var delay = RetryPolicy.BackoffMs($"job-{i}", attempt);
            Assert.InRange(delay, baseDelay, baseDelay + (baseDelay / 4) - 1);
        }
    }

    [Fact]
    public void JitterDependsOnJobIdAndAttemptOnly()
    {
        Assert.Equal(RetryPolicy.BackoffMs("a", 3), RetryPolicy.BackoffMs("a", 3));
        var spread = Enumerable.Range(0, 100).Select(i => RetryPolicy.BackoffMs($"job-{i}", 5)).Distinct().Count();
        Assert.True(spread > 50, $"only {spread} distinct delays for 100 jobs");
    }

    [Fact]
    public void IsStableAcrossProcesses()
    {
        // Pinned values: a per-process hash (string.GetHashCode) or Random would change them,
        // and nodes would disagree on run_at.
        Assert.Equal(PinnedFirst, RetryPolicy.BackoffMs("0193a2b4-7c1d-7000-8000-000000000001", 1));
        Assert.Equal(PinnedFourth, RetryPolicy.BackoffMs("0193a2b4-7c1d-7000-8000-000000000001", 4));
    }
}
