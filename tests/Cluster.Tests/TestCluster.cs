using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Flotilla.Client;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// Three (or more) real nodes on 127.0.0.1 with free ports and a private temp folder, formed
/// the way the AppHost forms them: node1 bootstraps, each later node joins the earlier ones.
/// </summary>
internal sealed class TestCluster : IAsyncDisposable
{
    private readonly string _root;

    private TestCluster(string root, IReadOnlyList<NodeProcess> nodes)
    {
        _root = root;
        Nodes = nodes;
    }

    public IReadOnlyList<NodeProcess> Nodes { get; }

    public NodeProcess this[string nodeId] => Nodes.Single(n => n.NodeId == nodeId);

    public static TestCluster Create(int size = 3, Action<NodeProcess>? configure = null)
    {
        var root = Path.Combine(Path.GetTempPath(), "flotilla-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var ports = FreePorts(size * 2);
        var secret = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var nodes = new List<NodeProcess>();
        for (var i = 0; i < size; i++)
        {
            var id = $"node{i + 1}";
            var node = new NodeProcess(id, ports[i * 2], ports[(i * 2) + 1], Path.Combine(root, id))
            {
                Bootstrap = i == 0,
                Join = i == 0 ? null : string.Join(',', nodes.Select(n => n.Url.ToString())),
                Secret = secret,
            };

            // Election timeouts that do not overlap, as the AppHost gives them (node1 250–300,
            // node2 320–370, node3 390–440 ms): survivors never split a vote (see ClusterOptions).
            var electionTimeout = 250 + (70 * i);
            node.Settings["Cluster:ElectionTimeoutMs"] = electionTimeout.ToString(System.Globalization.CultureInfo.InvariantCulture);
            node.Settings["Cluster:ElectionTimeoutMaxMs"] = (electionTimeout + 50).ToString(System.Globalization.CultureInfo.InvariantCulture);
            configure?.Invoke(node);
            nodes.Add(node);
        }

        return new TestCluster(root, nodes);
    }

    /// <summary>Starts the nodes one after the other, each once the previous is healthy, then waits for one leader.</summary>
    public async Task StartAsync(TimeSpan? timeout = null)
    {
        foreach (var node in Nodes)
        {
            node.Start();
            await WaitForAsync(() => node.IsHealthyAsync(), $"{node.NodeId} healthy", timeout ?? TimeSpan.FromSeconds(60));
        }

        await WaitForAgreedLeaderAsync(Nodes, timeout ?? TimeSpan.FromSeconds(60));
    }

    /// <summary>Waits until every given node reports node_count = Nodes.Count and the same leader.</summary>
    public async Task<string> WaitForAgreedLeaderAsync(IEnumerable<NodeProcess> nodes, TimeSpan timeout)
    {
        string? leader = null;
        var list = nodes.ToList();
        await WaitForAsync(
            async () =>
            {
                var healths = await Task.WhenAll(list.Select(n => n.TryGetHealthAsync()));
                if (healths.Any(h => h is null || !h.IsHealthy || h.NodeCount != Nodes.Count || h.Leader is null))
                {
                    return false;
                }

                var leaders = healths.Select(h => h!.Leader).Distinct().ToList();
                leader = leaders.Count == 1 ? leaders[0] : null;
                return leader is not null && list.Any(n => n.NodeId == leader);
            },
            "one agreed leader among " + string.Join(',', list.Select(n => n.NodeId)),
            timeout);
        return leader!;
    }

    public async Task WaitForAsync(Func<Task<bool>> condition, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0}s waiting for {what}.{Environment.NewLine}{Diagnostics()}");
    }

    /// <summary>Submits a job through the given node; returns the accepted job.</summary>
    public static async Task<Job> SubmitAsync(NodeProcess node, object job, CancellationToken token = default)
    {
        using var response = await node.Http.PostAsJsonAsync("jobs", job, FlotillaJson.Options, token);
        if (response.StatusCode != HttpStatusCode.Accepted)
        {
            throw new HttpRequestException($"POST /jobs on {node.NodeId} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(token)}");
        }

        return (await response.Content.ReadFromJsonAsync<Job>(FlotillaJson.Options, token))!;
    }

    public static async Task<Job?> GetJobAsync(NodeProcess node, string jobId, CancellationToken token = default)
    {
        using var response = await node.Http.GetAsync($"jobs/{jobId}", token);
        return response.StatusCode == HttpStatusCode.NotFound
            ? null
            : await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<Job>(FlotillaJson.Options, token);
    }

    /// <summary>Waits until all running nodes have applied the same index and report the same checksum.</summary>
    public async Task<StoreStateDto> WaitForIdenticalStoresAsync(TimeSpan timeout)
    {
        StoreStateDto? agreed = null;
        await WaitForAsync(
            async () =>
            {
                var states = await Task.WhenAll(Nodes.Where(n => n.IsRunning).Select(n => n.GetStateAsync()));
                agreed = states.Select(s => (s.AppliedIndex, s.Checksum)).Distinct().Count() == 1 ? states[0] : null;
                return agreed is not null;
            },
            "identical databases on every running node",
            timeout);
        return agreed!;
    }

    public string Diagnostics() => string.Join(Environment.NewLine, Nodes.Select(n => n.RecentOutput()));

    public static int[] FreePorts(int count) => Flotilla.Tests.Shared.TestPorts.Take(count);

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
