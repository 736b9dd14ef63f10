using Flotilla.Client;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// Issue 7, defect 6: a new leader whose clock runs ahead must not rescue live leases early. A
/// lease last stamped by the previous leader looks long expired to such a leader; the job's node
/// is alive and renewing, so the job must finish in its first attempt.
/// </summary>
public sealed class ClockSkewTests : IAsyncLifetime
{
    private const int LeaseMs = 6_000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    // node2's wall clock runs 20 s (over three leases) ahead; only node3 runs jobs.
    // Election timeouts that do not overlap (node1 < node2 < node3) decide who follows a resign:
    // a node asks for votes when its own timeout ends, and a voter grants one only after its own
    // timeout since the last leader message (pre-vote). node1 asks first and is refused by both;
    // node2 asks next, node1 (past its timeout by then) agrees: node2 leads, every time.
    private readonly TestCluster _cluster = TestCluster.Create(configure: n =>
    {
        n.Settings["Worker:LeaseMs"] = LeaseMs.ToString(System.Globalization.CultureInfo.InvariantCulture);
        n.Settings["Worker:Enabled"] = n.NodeId == "node3" ? "true" : "false";
        n.Settings["Cluster:ElectionTimeoutMs"] = n.NodeId switch { "node1" => "600", "node2" => "1500", _ => "3500" };
        n.Settings.Remove("Cluster:ElectionTimeoutMaxMs"); // each twice its lower bound: still apart
        if (n.NodeId == "node2")
        {
            n.EnvironmentName = "Testing";
            n.Settings["Testing:ClockOffsetMs"] = "20000";
        }
    });

    public Task InitializeAsync() => _cluster.StartAsync();

    public Task DisposeAsync() => _cluster.DisposeAsync().AsTask();

    [Fact]
    public async Task ALeaderWhoseClockRunsAheadDoesNotRescueALiveLease()
    {
        await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
        var node3 = _cluster["node3"];
        var job = await TestCluster.SubmitAsync(node3, new { workflow = "sleep", payload = new { ms = 25_000 }, timeout_ms = 60_000 });
        await _cluster.WaitForAsync(
            async () => (await TestCluster.GetJobAsync(node3, job.JobId))?.Status == JobStatus.Running,
            "the job running on node3",
            Timeout);

        // Hand leadership to node2 (the fast clock) while the job runs under a lease stamped by another leader.
        await _cluster.WaitForAsync(
            async () =>
            {
                var leader = await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
                if (leader == "node2")
                {
                    return true;
                }

                using var resigned = await _cluster[leader].Http.PostAsync("cluster/leadership/resign", null);
                await Task.Delay(4_000);
                return false;
            },
            "node2 leading",
            Timeout);

        Assert.Equal(JobStatus.Running, (await TestCluster.GetJobAsync(node3, job.JobId))!.Status); // not over before the test began
        using var wait = await node3.Http.GetAsync($"jobs/{job.JobId}?wait_ms=30000");
        var finished = (await TestCluster.GetJobAsync(node3, job.JobId))!;
        Assert.True(
            finished is { Status: JobStatus.Completed, Attempts: 1, Error: null },
            $"{finished.Status}, attempts {finished.Attempts}, error {finished.Error}{Environment.NewLine}{_cluster["node2"].RecentOutput()}");
        Assert.DoesNotContain("Rescued", _cluster["node2"].RecentOutput(), StringComparison.Ordinal);
    }
}
