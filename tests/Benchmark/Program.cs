using System.Diagnostics;
using System.Net.Http.Json;
using Flotilla.Client;
using Flotilla.Cluster.Tests;

// Measures a real three-node cluster on this machine: formation, single-job commits/s at
// several concurrencies, batched jobs/s, and leader failover. Usage:
//   dotnet run -c Release --project tests/Benchmark [-- seconds-per-step]
var seconds = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5;

// Writes are measured with the workers off, so running jobs does not compete with them.
await using var cluster = TestCluster.Create(configure: n => n.Settings["Worker:Enabled"] = "false");
var formation = Stopwatch.StartNew();
await cluster.StartAsync();
Console.WriteLine($"formation (3 nodes, sequential, health-gated): {formation.Elapsed.TotalSeconds:0.0} s");

var leaderId = await cluster.WaitForAgreedLeaderAsync(cluster.Nodes, TimeSpan.FromSeconds(30));
var leader = cluster[leaderId];
var follower = cluster.Nodes.First(n => n.NodeId != leaderId);

foreach (var writers in new[] { 1, 8, 32, 64 })
{
    var (count, latencies) = await RunAsync(writers, seconds, async token =>
    {
        await TestCluster.SubmitAsync(leader, new { workflow = "echo", payload = new { n = 1 } }, token);
        return 1;
    });
    Console.WriteLine($"POST /jobs to leader, {writers,2} writers: {count / (double)seconds,8:0} jobs/s  p50 {Percentile(latencies, 50):0.0} ms  p99 {Percentile(latencies, 99):0.0} ms");
}

{
    var (count, _) = await RunAsync(32, seconds, async token =>
    {
        await TestCluster.SubmitAsync(follower, new { workflow = "echo", payload = new { n = 1 } }, token);
        return 1;
    });
    Console.WriteLine($"POST /jobs to a follower, 32 writers: {count / (double)seconds,8:0} jobs/s (forwarded)");
}

foreach (var (writers, size) in new[] { (1, 100), (4, 500), (8, 1000) })
{
    var batch = Enumerable.Range(0, size).Select(i => new { workflow = "echo", payload = new { i } }).ToArray();
    var (count, latencies) = await RunAsync(writers, seconds, async token =>
    {
        using var response = await leader.Http.PostAsJsonAsync("jobs/batch", batch, FlotillaJson.Options, token);
        response.EnsureSuccessStatusCode();
        return size;
    });
    Console.WriteLine($"POST /jobs/batch x{size,4}, {writers} writers: {count / (double)seconds,8:0} jobs/s  p50 {Percentile(latencies, 50):0.0} ms per batch");
}

var state = await leader.GetStateAsync();
Console.WriteLine($"log entries applied: {state.AppliedIndex}, jobs: {string.Join(", ", state.Jobs.Select(kv => $"{kv.Key}={kv.Value}"))}");

// Failover: kill the leader, time until the survivors agree on a new one and take a write.
var failover = Stopwatch.StartNew();
leader.Kill();
var survivors = cluster.Nodes.Where(n => n != leader).ToList();
while (true)
{
    try
    {
        await TestCluster.SubmitAsync(survivors[0], new { workflow = "echo", payload = "after failover" });
        break;
    }
    catch (HttpRequestException)
    {
        await Task.Delay(20);
    }
}

Console.WriteLine($"leader killed -> write accepted again: {failover.Elapsed.TotalSeconds:0.00} s");

// Jobs that run: a fresh cluster with its workers on (default slots: cores).
var slots = Environment.GetEnvironmentVariable("FLOTILLA_BENCH_SLOTS");
await using var running = TestCluster.Create(configure: n =>
{
    if (slots is not null)
    {
        n.Settings["Worker:Slots"] = slots;
    }
});
Console.WriteLine($"worker slots per node: {slots ?? "default (cores)"}");
await running.StartAsync();
leader = running[await running.WaitForAgreedLeaderAsync(running.Nodes, TimeSpan.FromSeconds(30))];
follower = running.Nodes.First(n => n != leader);
await Task.Delay(1000); // built-in workflows registered

// End to end: jobs submitted in batches, run by the three workers with the echo workflow.
{
    var before = (await leader.GetStateAsync()).Jobs.GetValueOrDefault("completed");
    const int total = 3000;
    var started = Stopwatch.StartNew();
    foreach (var chunk in Enumerable.Range(0, total).Chunk(500))
    {
        using var response = await leader.Http.PostAsJsonAsync("jobs/batch", chunk.Select(i => new { workflow = "echo", payload = new { i } }).ToArray(), FlotillaJson.Options);
        response.EnsureSuccessStatusCode();
    }

    var submitted = started.Elapsed;
    while ((await leader.GetStateAsync()).Jobs.GetValueOrDefault("completed") - before < total)
    {
        await Task.Delay(50);
    }

    Console.WriteLine($"echo end to end: {total} jobs in {started.Elapsed.TotalSeconds:0.0} s = {total / started.Elapsed.TotalSeconds:0} jobs/s (submitting took {submitted.TotalSeconds:0.0} s)");
}

// Pickup: one job at a time on an idle cluster, submit acknowledged -> completed (echo runs in ~1 ms).
{
    var latencies = new List<double>();
    for (var i = 0; i < 50; i++)
    {
        var job = await TestCluster.SubmitAsync(follower, new { workflow = "echo", payload = i });
        var sw = Stopwatch.StartNew();
        while ((await TestCluster.GetJobAsync(follower, job.JobId))!.Status != JobStatus.Completed)
        {
            await Task.Delay(2);
        }

        var done = (await TestCluster.GetJobAsync(follower, job.JobId))!;
        latencies.Add((done.UpdatedAt - done.CreatedAt).TotalMilliseconds);
    }

    Console.WriteLine($"pickup (created_at -> completed updated_at, sequential): p50 {Percentile(latencies, 50):0} ms  p99 {Percentile(latencies, 99):0} ms");
}



static async Task<(long Count, List<double> Latencies)> RunAsync(int writers, int seconds, Func<CancellationToken, Task<int>> op)
{
    using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
    long count = 0;
    var latencies = new List<double>();
    await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
    {
        var mine = new List<double>();
        while (!stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                var n = await op(stop.Token);
                Interlocked.Add(ref count, n);
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            catch (OperationCanceledException)
            {
            }
        }

        lock (latencies)
        {
            latencies.AddRange(mine);
        }
    })));
    return (count, latencies);
}

static double Percentile(List<double> values, int p)
{
    if (values.Count == 0)
    {
        return double.NaN;
    }

    values.Sort();
    return values[Math.Min(values.Count - 1, values.Count * p / 100)];
}
