using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Flotilla.Cluster.Tests;

/// <summary>Cluster:Secret: node-to-node routes refuse callers without it; a node with the wrong one cannot join.</summary>
[Collection(EdgeCollection.Name)]
public sealed class ClusterSecretTests(EdgeCluster edge)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster = edge.Cluster;

    [Theory]
    [InlineData(null)]
    [InlineData("wrong")]
    [InlineData("")]
    public async Task EveryClusterRouteButHealthRefusesACallerWithoutTheSecret(string? secret)
    {
        var node = await edge.FollowerAsync();
        using var http = new HttpClient { BaseAddress = node.Url };
        if (secret is not null)
        {
            http.DefaultRequestHeaders.Add(NodeProcess.SecretHeader, secret);
        }

        var before = await node.GetStateAsync();
        foreach (var request in new[]
        {
            new HttpRequestMessage(HttpMethod.Get, "cluster/state"),
            new HttpRequestMessage(HttpMethod.Post, "cluster/propose") { Content = JsonContent.Create(new { commands = new[] { new { type = "cancel_job", job_id = "x" } } }) },
            new HttpRequestMessage(HttpMethod.Post, "cluster/members") { Content = JsonContent.Create(new { endpoint = "127.0.0.1:1", node_id = "intruder" }) },
            new HttpRequestMessage(HttpMethod.Delete, $"cluster/members/127.0.0.1:{_cluster["node3"].RaftPort}"),
            new HttpRequestMessage(HttpMethod.Get, "CLUSTER/State"),
            new HttpRequestMessage(HttpMethod.Get, "cluster/health/../state"),
        })
        {
            using (request)
            using (var response = await http.SendAsync(request))
            {
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{request.Method} {request.RequestUri}: {(int)response.StatusCode} {body}");
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Contains("X-Flotilla-Cluster-Secret", body, StringComparison.Ordinal);
            }
        }

        // The orchestrator and the Api gate on health: it stays open.
        using var health = await http.GetAsync("cluster/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var state = await node.GetStateAsync();
        Assert.Equal(before.Checksum, state.Checksum);
        Assert.Equal(3, (await node.TryGetHealthAsync())!.NodeCount);
    }

    [Fact]
    public async Task WritesForwardedBetweenNodesCarryTheSecret()
    {
        var follower = await edge.FollowerAsync();

        // The follower forwards to the leader's /cluster/propose, which needs the secret.
        var job = await TestCluster.SubmitAsync(follower, new { workflow = "echo", payload = "forwarded" });

        Assert.Equal(Flotilla.Client.JobStatus.Pending, job.Status);
        foreach (var node in _cluster.Nodes)
        {
            await _cluster.WaitForAsync(async () => await TestCluster.GetJobAsync(node, job.JobId) is not null, $"{job.JobId} on {node.NodeId}", Timeout);
        }
    }

    [Fact]
    public async Task ANodeWithTheWrongSecretCannotJoinAndTheMembershipStaysAsItWas()
    {
        var ports = TestCluster.FreePorts(2);
        var dataDir = Path.Combine(Path.GetTempPath(), "flotilla-tests", "intruder-" + Guid.NewGuid().ToString("N"));
        var intruder = new NodeProcess("node4", ports[0], ports[1], dataDir)
        {
            Join = string.Join(',', _cluster.Nodes.Select(n => n.Url.ToString())),
            Secret = "not-the-cluster-secret",
        };
        try
        {
            intruder.Start();
            await _cluster.WaitForAsync(() => Task.FromResult(!intruder.IsRunning), "the intruder to give up", Timeout);

            Assert.Contains("refused this node's cluster secret", intruder.RecentOutput(), StringComparison.Ordinal);
            var healths = await Task.WhenAll(_cluster.Nodes.Select(n => n.TryGetHealthAsync()));
            Assert.All(healths, h => Assert.Equal(3, h!.NodeCount));
            using var members = await _cluster.Nodes[0].Http.GetAsync("cluster/health");
            var names = (await members.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("members").EnumerateArray().Select(m => m.GetString());
            Assert.DoesNotContain(names, n => n == "node4" || n!.EndsWith($":{ports[1]}", StringComparison.Ordinal));
        }
        finally
        {
            await intruder.DisposeAsync();
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }
}
