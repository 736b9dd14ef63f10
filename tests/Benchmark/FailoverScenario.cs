using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Flotilla.Client;
using Flotilla.Cluster.Tests;

namespace Flotilla.Benchmark;

/// <summary>
/// Leader failover alone (<c>--only failover</c>): one cluster and the Api, the leader killed with
/// SIGKILL <c>--kills</c> times (restarted and settled in between). For each kill: how long until a
/// write is accepted at a survivor (the figure the end-to-end run reports once) and through the
/// Api, and when the nodes logged each phase (a survivor giving up on the leader, the new
/// leader's election and its first commit).
/// </summary>
internal static class FailoverScenario
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(3);

    public static async Task RunAsync(BenchOptions options, Report report)
    {
        report.Progress($"failover: starting 3 nodes and the Api, then {options.Kills} leader kills");
        await using var cluster = TestCluster.Create();
        await cluster.StartAsync();
        await using var api = await ApiProcess.StartAsync(cluster.Nodes);
        var clock = Stopwatch.StartNew();
        var timeline = new FailoverTimeline(cluster.Nodes, api, () => clock.Elapsed.TotalSeconds);
        await FlotillaScenarios.WaitForApiAsync(api);

        var survivorFigures = new List<double>();
        var apiFigures = new List<double>();
        var phases = new List<FailoverTimeline.Phases>();
        for (var kill = 1; kill <= options.Kills; kill++)
        {
            var leader = cluster[await cluster.WaitForAgreedLeaderAsync(cluster.Nodes, TimeSpan.FromSeconds(60))];
            var survivor = cluster.Nodes.First(n => n != leader);
            await Task.Delay(Settle); // heartbeats at their steady pace before the kill
            var killAt = clock.Elapsed.TotalSeconds;
            leader.Kill();
            var atSurvivor = WriteAcceptedAsync(survivor.Http, clock);
            var throughApi = WriteAcceptedAsync(api.Http, clock);
            var (survivorAt, apiAt) = (await atSurvivor, await throughApi);
            if (survivorAt is null || apiAt is null)
            {
                report.Fail($"kill {kill}: no write accepted within 30 s of killing {leader.NodeId}");
                return;
            }

            survivorFigures.Add((survivorAt.Value - killAt) * 1000);
            apiFigures.Add((apiAt.Value - killAt) * 1000);
            leader.Start();
            await cluster.WaitForAgreedLeaderAsync(cluster.Nodes, TimeSpan.FromSeconds(60));
            var seen = timeline.After(leader.NodeId, killAt, clock.Elapsed.TotalSeconds, [apiAt.Value, survivorAt.Value]);
            phases.Add(seen);
            report.Progress($"kill {kill} at {DateTime.UtcNow.AddSeconds(killAt - clock.Elapsed.TotalSeconds):HH:mm:ss.fff} of {leader.NodeId}: write accepted at {survivor.NodeId} +{survivorFigures[^1]:0} ms, through the Api +{apiFigures[^1]:0} ms; {seen}");
        }

        AddSpread(report, "failover: leader kill -> write accepted at a survivor", survivorFigures);
        AddSpread(report, "failover: leader kill -> write accepted through the api", apiFigures);
        AddSpread(report, "failover phase: a survivor gives up on the leader", Millis(phases.Select(p => p.LeaderLost)));
        AddSpread(report, "failover phase: new leader elected", Millis(phases.Select(p => p.Elected)));
        AddSpread(report, "failover phase: new leader's first commit", Millis(phases.Select(p => p.Committed)));
    }

    private static List<double> Millis(IEnumerable<double?> seconds) => seconds.OfType<double>().Select(s => s * 1000).ToList();

    private static void AddSpread(Report report, string name, List<double> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        report.Add($"{name}, median of {values.Count}", Load.Percentile(values, 50), "ms");
        report.Add($"{name}, max of {values.Count}", values.Max(), "ms");
    }

    // A write every 20 ms until one is accepted; returns when (seconds on the clock), or null after 30 s.
    private static async Task<double?> WriteAcceptedAsync(HttpClient http, Stopwatch clock)
    {
        var deadline = clock.Elapsed + TimeSpan.FromSeconds(30);
        while (clock.Elapsed < deadline)
        {
            try
            {
                using var response = await http.PostAsJsonAsync("jobs", new { workflow = "echo", payload = "after failover" }, FlotillaJson.Options);
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    return clock.Elapsed.TotalSeconds;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(20);
        }

        return null;
    }
}
