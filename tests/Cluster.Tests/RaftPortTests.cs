using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// Issue 7, defect 8: the Raft port is reachable by anyone who can reach a node. Many idle or
/// slow connections to every node's Raft port (the followers' included: a follower that misses
/// heartbeats starts an election) (a slow-loris: one byte every 2 s) must neither
/// depose the leader nor stop writes.
/// </summary>
public sealed class RaftPortTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly int Connections = int.TryParse(Environment.GetEnvironmentVariable("FLOTILLA_RAFT_PORT_CONNECTIONS"), out var n) ? n : 300;

    private readonly TestCluster _cluster = TestCluster.Create(configure: n => n.Settings["Worker:Enabled"] = "false");

    public Task InitializeAsync() => _cluster.StartAsync();

    public Task DisposeAsync() => _cluster.DisposeAsync().AsTask();

    [Fact]
    public async Task ThreeHundredSlowConnectionsToEveryRaftPortNeitherDeposeTheLeaderNorStopWrites()
    {
        var leaderId = await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout);
        var leader = _cluster[leaderId];
        var term = (await leader.TryGetHealthAsync())!.Term;

        using var attack = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var attackers = _cluster.Nodes.SelectMany(n => Enumerable.Range(0, Connections).Select(_ => SlowLorisAsync(n.RaftPort, attack.Token))).ToArray();

        var latencies = new List<double>();
        var failures = new List<string>();
        var watch = new Stopwatch();
        for (var i = 0; !attack.IsCancellationRequested; i++)
        {
            watch.Restart();
            try
            {
                await TestCluster.SubmitAsync(leader, new { workflow = "echo", payload = i });
                latencies.Add(watch.Elapsed.TotalMilliseconds);
            }
            catch (HttpRequestException ex)
            {
                failures.Add($"write {i} after {watch.Elapsed.TotalMilliseconds:0} ms: {ex.Message}");
            }
        }

        var opened = (await Task.WhenAll(attackers)).Sum();
        var health = await leader.TryGetHealthAsync();
        latencies.Sort();
        var report = $"{opened} connections opened; {latencies.Count} writes, p50 {latencies[latencies.Count / 2]:0} ms, max {latencies[^1]:0} ms; {failures.Count} failed";
        output.WriteLine(report);
        Assert.True(failures.Count == 0, report + Environment.NewLine + string.Join(Environment.NewLine, failures.Take(10)));
        Assert.True(latencies.Count >= 20, report);
        Assert.True(latencies[^1] < 2_000, report);
        Assert.Equal(leaderId, health?.Leader);
        Assert.Equal(term, health?.Term);
    }

    // One attacker: connects, sends one byte every 2 s; connects again when dropped. Returns how many connections it opened.
    private static async Task<int> SlowLorisAsync(int port, CancellationToken token)
    {
        var opened = 0;
        while (!token.IsCancellationRequested)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), token);
                opened++;
                while (!token.IsCancellationRequested)
                {
                    await socket.SendAsync(new byte[] { 0x16 }, SocketFlags.None, token);
                    await Task.Delay(2_000, token);
                }
            }
            catch (OperationCanceledException)
            {
                return opened;
            }
            catch (SocketException)
            {
                await Task.Delay(100, CancellationToken.None);
            }
        }

        return opened;
    }
}
