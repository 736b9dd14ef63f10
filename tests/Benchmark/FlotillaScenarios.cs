using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Flotilla.Client;
using Flotilla.Cluster.Tests;

namespace Flotilla.Benchmark;

/// <summary>Flotilla's scenarios, each on real processes: three nodes (Release) and the Api.</summary>
internal static class FlotillaScenarios
{
    private const int BatchSize = 1000;

    /// <summary>Submits alone (workers off, so running jobs does not compete): batches and single jobs through the Api.</summary>
    public static async Task SubmitsAsync(BenchOptions options, Report report)
    {
        report.Progress("submits: starting 3 nodes (workers off) and the Api (write rate limit off)");
        await using var cluster = TestCluster.Create(configure: n => n.Settings["Worker:Enabled"] = "false");
        await cluster.StartAsync();

        // What the cluster takes, not what one key may send: the default limit (5,000 requests
        // a second a key, a burst of 10,000) answered 429 to 64 clients sending ~6,600 singles a second.
        await using var api = await ApiProcess.StartAsync(cluster.Nodes, new Dictionary<string, string> { ["Api:RateLimit:PermitsPerSecond"] = "0" });
        await WaitForApiAsync(api);

        var leader = cluster[await cluster.WaitForAgreedLeaderAsync(cluster.Nodes, TimeSpan.FromSeconds(30))];
        // CPU by process: where the cost of a submit goes (the clients run in this process).
        var cpu = new CpuSplit(
            cluster.Nodes.Select(n => n.ProcessId!.Value).Append(api.ProcessId!.Value).Append(Environment.ProcessId).ToArray(),
            cluster.Nodes.Select(n => n == leader ? n.NodeId + " (leader)" : n.NodeId).Append("api").Append("clients").ToArray());
        if (options.Runs("submits"))
        {
            await BatchesAsync(api, leader, cpu, options, report);
        }

        await SinglesAsync(api, cpu, options, report);
    }

    private static async Task BatchesAsync(ApiProcess api, NodeProcess leader, CpuSplit cpu, BenchOptions options, Report report)
    {
        // Serialized once: the same body goes every time, and the load generator shares the two
        // cores with the cluster it measures (the clients' CPU is reported below all the same).
        var batch = JsonSerializer.SerializeToUtf8Bytes(
            Enumerable.Range(0, BatchSize).Select(i => new { workflow = "echo", payload = new { i } }).ToArray(), FlotillaJson.Options);
        cpu.Start();
        var (batches, _) = await Load.ForAsync(options.BatchClients, options.Seconds, async token =>
        {
            using var response = await api.Http.PostAsync("jobs/batch", JsonBody(batch), token);
            response.EnsureSuccessStatusCode();
        });
        report.Add($"submits /jobs/batch via api (x1000, {options.BatchClients} clients)", batches * BatchSize / (double)options.Seconds, "jobs/s");
        cpu.Report(report, "cpu per batched submit", batches * BatchSize);

        var (direct, _) = await Load.ForAsync(options.BatchClients, options.Seconds, async token =>
        {
            using var response = await leader.Http.PostAsync("jobs/batch", JsonBody(batch), token);
            response.EnsureSuccessStatusCode();
        });
        report.Add($"submits /jobs/batch to the leader (x1000, {options.BatchClients} clients)", direct * BatchSize / (double)options.Seconds, "jobs/s");
    }

    private static ByteArrayContent JsonBody(byte[] json)
    {
        var content = new ByteArrayContent(json);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        return content;
    }

    private static async Task SinglesAsync(ApiProcess api, CpuSplit cpu, BenchOptions options, Report report)
    {
        cpu.Start();
        var (singles, latencies) = await Load.ForAsync(64, options.Seconds, async token =>
        {
            using var response = await api.Http.PostAsJsonAsync("jobs", new { workflow = "echo", payload = new { n = 1 } }, FlotillaJson.Options, token);
            response.EnsureSuccessStatusCode();
        });
        report.Add("submits POST /jobs via api (64 clients)", singles / (double)options.Seconds, "jobs/s");
        report.Add("submits POST /jobs via api p50", Load.Percentile(latencies, 50), "ms");
        cpu.Report(report, "cpu per single submit", singles);
    }

    /// <summary>CPU time spent by each process between <see cref="Start"/> and <see cref="Report"/>, per item.</summary>
    private sealed class CpuSplit(int[] processes, string[] names)
    {
        private TimeSpan[] _before = [];

        public void Start() => _before = processes.Select(p => ProcessStats.CpuTime([p])).ToArray();

        public void Report(Report report, string what, long items)
        {
            for (var i = 0; i < processes.Length; i++)
            {
                var spent = ProcessStats.CpuTime([processes[i]]) - _before[i];
                report.Add($"{what}, {names[i]}", spent.TotalMicroseconds / Math.Max(1, items), "µs");
            }
        }
    }

    /// <summary>Jobs that run: end to end through the Api, pickup at a paced rate, memory, CPU, failover.</summary>
    public static async Task EndToEndAsync(BenchOptions options, Report report)
    {
        report.Progress("end to end: starting 3 nodes and the Api");
        await using var cluster = TestCluster.Create();
        await cluster.StartAsync();
        await using var api = await ApiProcess.StartAsync(cluster.Nodes);
        await WaitForApiAsync(api);
        var leader = cluster[await cluster.WaitForAgreedLeaderAsync(cluster.Nodes, TimeSpan.FromSeconds(30))];
        var follower = cluster.Nodes.First(n => n != leader);
        var processes = cluster.Nodes.Select(n => n.ProcessId!.Value).Append(api.ProcessId!.Value).ToArray();

        // Warm up (JIT, module cache) so the measured run is steady state, the clients included:
        // they run in this process with tiered JIT, which recompiles a method after 30 calls. A
        // warm-up of 2,000 jobs in batches of 1,000 left the per-batch code to be recompiled
        // inside the measured run (~9 % of all CPU in a profile, taken from the cluster), so the
        // warm-up runs as many jobs as the measured run, in batches small enough to pass 30 calls.
        await RunJobsAsync(api, leader, options.Jobs, report, quiet: true, batchSize: 100);

        // History: this many jobs run to completion first, so the measured run sees a full store.
        if (options.HistoryJobs > 0)
        {
            report.Progress($"history: running {options.HistoryJobs} jobs first");
            await using var peaks = new PeakRss(cluster.Nodes.Select(n => n.ProcessId!.Value).ToArray());
            var history = Stopwatch.StartNew();
            await RunJobsAsync(api, leader, options.HistoryJobs, report, quiet: false);
            report.Add($"history of {options.HistoryJobs} jobs, end-to-end", options.HistoryJobs / history.Elapsed.TotalSeconds, "jobs/s");
            foreach (var (node, peak) in cluster.Nodes.Zip(peaks.Peaks))
            {
                report.Add($"rss {node.NodeId}, highest during the history (1 s samples)", peak / 1024.0 / 1024.0, "MiB");
            }
        }

        report.Progress($"end to end: measuring {options.Jobs} jobs");
        var entriesBefore = (await QueueAsync(leader)).AppliedIndex;
        var cpuBefore = processes.Select(p => ProcessStats.CpuTime([p])).ToArray();
        var watch = Stopwatch.StartNew();
        var submitted = await RunJobsAsync(api, leader, options.Jobs, report, quiet: false);
        watch.Stop();
        var cpuEach = processes.Select((p, i) => ProcessStats.CpuTime([p]) - cpuBefore[i]).ToArray();
        // Every entry costs a Raft round and a SQLite transaction on each node, whatever it holds.
        report.Add("log entries per 1,000 jobs", ((await QueueAsync(leader)).AppliedIndex - entriesBefore) * 1000.0 / options.Jobs, "entries");
        var cpu = cpuEach.Aggregate(TimeSpan.Zero, (a, b) => a + b);
        var names = cluster.Nodes.Select(n => n == leader ? n.NodeId + " (leader)" : n.NodeId).Append("api").ToArray();
        for (var i = 0; i < names.Length; i++)
        {
            report.Add($"cpu per job, {names[i]}", cpuEach[i].TotalMicroseconds / options.Jobs, "µs");
        }

        report.Add("flotilla submit (while running)", options.Jobs / submitted.TotalSeconds, "jobs/s");
        report.Add("flotilla end-to-end", options.Jobs / watch.Elapsed.TotalSeconds, "jobs/s");
        report.Add("flotilla cpu per job (3 nodes + api)", cpu.TotalMicroseconds / options.Jobs, "µs");
        foreach (var node in cluster.Nodes)
        {
            report.Add($"rss {node.NodeId}", ProcessStats.RssBytes(node.ProcessId!.Value) / 1024.0 / 1024.0, "MiB");
            report.Add($"rss {node.NodeId}: own memory", ProcessStats.RssOwnBytes(node.ProcessId!.Value) / 1024.0 / 1024.0, "MiB");
            report.Add($"rss {node.NodeId}: mapped files", ProcessStats.RssFileBytes(node.ProcessId!.Value) / 1024.0 / 1024.0, "MiB");
        }

        await SnapshotsAsync(cluster, report);

        if (options.Runs("durable"))
        {
            await DurableVersusPlainAsync(cluster, api, leader, options, report);
        }

        await PickupAsync(leader, "leader", options, report);
        await PickupAsync(follower, "follower", options, report);
        await FailoverAsync(cluster, leader, report);
    }

    /// <summary>The durable section alone (<c>--only durable</c>): its own cluster and Api.</summary>
    public static async Task DurableAsync(BenchOptions options, Report report)
    {
        report.Progress("durable: starting 3 nodes and the Api");
        await using var cluster = TestCluster.Create();
        await cluster.StartAsync();
        await using var api = await ApiProcess.StartAsync(cluster.Nodes);
        await WaitForApiAsync(api);
        var leader = cluster[await cluster.WaitForAgreedLeaderAsync(cluster.Nodes, TimeSpan.FromSeconds(30))];
        await DurableVersusPlainAsync(cluster, api, leader, options, report);
    }

    // What journaling costs: two no-op guests that differ only in one flotilla.now_ms call (which
    // makes a guest durable: its journal is read before the run and written with its outcome),
    // each run end to end in the same cluster, one after the other, warmed up first.
    private static async Task DurableVersusPlainAsync(TestCluster cluster, ApiProcess api, NodeProcess leader, BenchOptions options, Report report)
    {
        await RegisterAsync(api, "noop-plain", DurableNoOps.Plain);
        await RegisterAsync(api, "noop-durable", DurableNoOps.Durable);
        var processes = cluster.Nodes.Select(n => n.ProcessId!.Value).Append(api.ProcessId!.Value).ToArray();
        foreach (var workflow in new[] { "noop-plain", "noop-durable" })
        {
            await RunJobsAsync(api, leader, Math.Min(2000, options.Jobs), report, quiet: true, workflow);
        }

        // Two rounds of half the jobs, plain-durable then durable-plain: a drift in the machine's
        // load during the section (it is shared) then weighs on both kinds alike.
        var kinds = new[] { ("noop-plain", "plain"), ("noop-durable", "durable") };
        var elapsed = new TimeSpan[kinds.Length];
        var cpu = new TimeSpan[kinds.Length];
        var perRound = Math.Max(1, options.Jobs / 2);
        for (var round = 0; round < 2; round++)
        {
            foreach (var k in round == 0 ? [0, 1] : new[] { 1, 0 })
            {
                report.Progress($"durable: round {round + 1}, {perRound} {kinds[k].Item2} no-op jobs");
                var cpuBefore = ProcessStats.CpuTime(processes);
                var watch = Stopwatch.StartNew();
                await RunJobsAsync(api, leader, perRound, report, quiet: false, kinds[k].Item1);
                elapsed[k] += watch.Elapsed;
                cpu[k] += ProcessStats.CpuTime(processes) - cpuBefore;
            }
        }

        for (var k = 0; k < kinds.Length; k++)
        {
            report.Add($"{kinds[k].Item2} no-op end-to-end", 2 * perRound / elapsed[k].TotalSeconds, "jobs/s");
            report.Add($"{kinds[k].Item2} no-op cpu per job (3 nodes + api)", cpu[k].TotalMicroseconds / (2 * perRound), "µs");
        }
    }

    private static async Task RegisterAsync(ApiProcess api, string name, byte[] module)
    {
        using var content = new ByteArrayContent(module);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/wasm");
        using var response = await api.Http.PutAsync($"workflows/{name}", content);
        response.EnsureSuccessStatusCode();
    }

    private static async Task<TimeSpan> RunJobsAsync(ApiProcess api, NodeProcess leader, int total, Report report, bool quiet, string workflow = "echo", int batchSize = BatchSize)
    {
        var watch = Stopwatch.StartNew();
        var chunks = Enumerable.Range(0, total).Chunk(batchSize).ToArray();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < chunks.Length)
            {
                var batch = chunks[i].Select(n => new { workflow, payload = new { n } }).ToArray();
                using var response = await api.Http.PostAsJsonAsync("jobs/batch", batch, FlotillaJson.Options);
                response.EnsureSuccessStatusCode();
            }
        })));
        var submitted = watch.Elapsed;

        var lastReport = TimeSpan.Zero;
        while (true)
        {
            var queue = await QueueAsync(leader);
            if (queue is { Pending: 0, Running: 0 })
            {
                break;
            }

            if (!quiet && watch.Elapsed - lastReport > TimeSpan.FromSeconds(1))
            {
                lastReport = watch.Elapsed;
                report.Progress($"end to end: {total - queue!.Pending - queue.Running}/{total} finished");
            }

            if (watch.Elapsed > TimeSpan.FromMinutes(10))
            {
                throw new TimeoutException($"jobs still unfinished after 10 minutes: {queue}");
            }

            // Near the end, poll as often as the Hangfire scenario does (10 ms), so the finish
            // is not read up to 100 ms late; before that, rarely, since each poll costs the leader a count.
            await Task.Delay(queue!.Pending + queue.Running > 2000 ? 100 : 10);
        }

        return submitted;
    }

    // Jobs submitted one at a time at a steady rate straight to a node. Two readings: from the
    // client's acknowledgement to started_at, and from created_at (stamped by the leader when it
    // builds the entry, before replication) to started_at, which adds the commit itself.
    private static async Task PickupAsync(NodeProcess target, string role, BenchOptions options, Report report)
    {
        report.Progress($"pickup: {options.PacedRate}/s for {options.Seconds} s to the {role}");
        var queue = $"pickup-{role}";
        var interval = TimeSpan.FromSeconds(1.0 / options.PacedRate);
        var total = options.PacedRate * options.Seconds;
        var sends = new List<Task>();
        var acknowledged = new System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset>();
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < total; i++)
        {
            // Read the clock once: read twice, the wait could turn negative in between and throw.
            var wait = interval * i - watch.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            sends.Add(Task.Run(async () =>
            {
                var job = await TestCluster.SubmitAsync(target, new { workflow = "echo", payload = new { i }, queue });
                acknowledged[job.JobId] = DateTimeOffset.UtcNow;
            }));
        }

        await Task.WhenAll(sends);
        var latencies = new List<double>();
        var fromAck = new List<double>();
        var ranHere = new List<double>(); // acknowledged -> started, of the jobs the receiving node ran
        var ranElsewhere = new List<double>();
        string? after = null;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (latencies.Count < total && DateTime.UtcNow < deadline)
        {
            var page = await target.Http.GetFromJsonAsync<JobPage>($"jobs?queue={queue}&limit=1000{(after is null ? string.Empty : "&after=" + after)}", FlotillaJson.Options);
            foreach (var job in page!.Jobs)
            {
                if (job.Status != JobStatus.Completed)
                {
                    latencies.Clear();
                    fromAck.Clear();
                    ranHere.Clear();
                    ranElsewhere.Clear();
                    after = null;
                    await Task.Delay(200);
                    goto next;
                }

                // started_at is the runner's clock, created_at the leader's: on one machine, one clock.
                latencies.Add(((job.StartedAt ?? job.UpdatedAt) - job.CreatedAt).TotalMilliseconds);
                fromAck.Add(((job.StartedAt ?? job.UpdatedAt) - acknowledged[job.JobId]).TotalMilliseconds);
                (job.CompletedBy == target.NodeId ? ranHere : ranElsewhere).Add(fromAck[^1]);
            }

            after = page.NextAfter;
            if (after is null)
            {
                break;
            }

        next:;
        }

        // Acknowledged (the client has its 202) -> started (the runner's clock); the same clock on
        // one machine. A job may start before its 202 arrives: then this is negative.
        report.Add($"pickup p50 at {options.PacedRate}/s, {role} (acknowledged -> started)", Load.Percentile(fromAck, 50), "ms");
        report.Add($"pickup p99 at {options.PacedRate}/s, {role} (acknowledged -> started)", Load.Percentile(fromAck, 99), "ms");
        report.Add($"pickup p50 at {options.PacedRate}/s, {role} (created -> started)", Load.Percentile(latencies, 50), "ms");
        report.Add($"pickup p99 at {options.PacedRate}/s, {role} (created -> started)", Load.Percentile(latencies, 99), "ms");

        // Where the tail comes from: a job the receiving node runs starts as that node applies
        // its entry; one assigned elsewhere starts when that node learns the commit.
        report.Add($"pickup at {options.PacedRate}/s, {role}: jobs run by the {role}", 100.0 * ranHere.Count / Math.Max(1, fromAck.Count), "%");
        foreach (var (ran, where) in new[] { (ranHere, $"the {role}"), (ranElsewhere, "another node") })
        {
            if (ran.Count > 0)
            {
                report.Add($"pickup p50 at {options.PacedRate}/s, {role} (acknowledged -> started), run by {where}", Load.Percentile(ran, 50), "ms");
                report.Add($"pickup p99 at {options.PacedRate}/s, {role} (acknowledged -> started), run by {where}", Load.Percentile(ran, 99), "ms");
            }
        }
    }

    private static async Task FailoverAsync(TestCluster cluster, NodeProcess leader, Report report)
    {
        var survivor = cluster.Nodes.First(n => n != leader);
        var watch = Stopwatch.StartNew();
        leader.Kill();
        while (watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                using var response = await survivor.Http.PostAsJsonAsync("jobs", new { workflow = "echo", payload = "after failover" }, FlotillaJson.Options);
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    report.Add("failover (leader kill -> write accepted)", watch.Elapsed.TotalMilliseconds, "ms");
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(20);
        }

        report.Fail("no write was accepted within 30 s of killing the leader");
    }

    public static async Task WaitForApiAsync(ApiProcess api)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await api.IsHealthyAsync())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The Api did not become healthy: " + api.RecentOutput());
            }

            await Task.Delay(100);
        }

        // The built-in workflows are registered by the leader shortly after it is elected.
        while (true)
        {
            using var probe = await api.Http.PostAsJsonAsync("jobs", new { workflow = "echo", payload = "warm-up" }, FlotillaJson.Options);
            if (probe.StatusCode == HttpStatusCode.Accepted || DateTime.UtcNow > deadline)
            {
                return;
            }

            await Task.Delay(200);
        }
    }

    // Each node's last snapshot: how long it held up apply (the target is 50 ms at most), and
    // how long its copy took beside apply. Snapshots come with log growth (64 MiB by default),
    // so a short run may take none; --history takes several.
    private static async Task SnapshotsAsync(TestCluster cluster, Report report)
    {
        foreach (var node in cluster.Nodes)
        {
            var queue = await node.Http.GetFromJsonAsync<QueueDto>("cluster/queue", FlotillaJson.Options);
            if (queue?.LastSnapshot is { } snapshot)
            {
                report.Add($"snapshot apply stall, {node.NodeId} (at {snapshot.Index}, {snapshot.Bytes / 1024 / 1024} MiB)", snapshot.ApplyStallMs, "ms");
                report.Add($"snapshot copy beside apply, {node.NodeId}", snapshot.CopyMs, "ms");
            }
            else
            {
                report.Progress($"{node.NodeId} took no snapshot in this run");
            }
        }
    }

    private static async Task<QueueDto> QueueAsync(NodeProcess node) =>
        await node.Http.GetFromJsonAsync<QueueDto>("cluster/queue", FlotillaJson.Options)
        ?? throw new InvalidOperationException("cluster/queue answered null");

    private sealed record QueueDto(string NodeId, long AppliedIndex, long Pending, long Running, SnapshotDto? LastSnapshot);

    private sealed record SnapshotDto(long Index, long Bytes, double ApplyStallMs, double CopyMs);
}
