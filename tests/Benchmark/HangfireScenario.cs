using System.Diagnostics;
using Hangfire;
using Hangfire.InMemory;

namespace Flotilla.Benchmark;

/// <summary>
/// The reference: Hangfire with in-memory storage (one process, nothing durable), running the
/// same number of no-op jobs on this machine in the same run, with its default worker count.
/// </summary>
internal static class HangfireScenario
{
    private static int _done;

    public static void Noop() => Interlocked.Increment(ref _done);

    public static async Task RunAsync(BenchOptions options, Report report)
    {
        report.Progress($"hangfire.inmemory: {options.Jobs} no-op jobs");
        GlobalConfiguration.Configuration
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UseInMemoryStorage(new InMemoryStorageOptions());
        using (var server = new BackgroundJobServer())
        {
            // Measured warm, as Flotilla is (its nodes compile each method fully on first use,
            // and the end-to-end section runs warm-up jobs first). Cold, tiered JIT weighed on
            // Hangfire's 20,000-job run: 8,200-11,600 jobs/s, where 100,000 jobs ran at
            // 15,400-15,800 and 20,000 after 2,000 warm-up jobs at 8,400-8,700 (still tiering
            // up). After a run of the same size it is steady: 15,000-17,300.
            var warmUp = options.Jobs;
            Enqueue(warmUp);
            await WaitUntilDoneAsync(warmUp, TimeSpan.FromMinutes(1));
            Interlocked.Exchange(ref _done, 0);
            report.Progress($"hangfire.inmemory: warmed up with {warmUp} jobs");

            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            Enqueue(options.Jobs);
            var submitted = watch.Elapsed;
            report.Add("hangfire.inmemory enqueue", options.Jobs / submitted.TotalSeconds, "jobs/s");
            await WaitUntilDoneAsync(options.Jobs, TimeSpan.FromMinutes(5));
            watch.Stop();
            if (Volatile.Read(ref _done) < options.Jobs)
            {
                report.Fail($"hangfire finished only {_done} of {options.Jobs} jobs");
                return;
            }

            report.Add("hangfire.inmemory end-to-end", options.Jobs / watch.Elapsed.TotalSeconds, "jobs/s");
            report.Add("hangfire.inmemory cpu per job", (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / options.Jobs, "µs");
        }
    }

    private static void Enqueue(int jobs)
    {
        for (var i = 0; i < jobs; i++)
        {
            BackgroundJob.Enqueue(() => Noop());
        }
    }

    // Polls as often as Flotilla's end-to-end wait does near its end (10 ms).
    private static async Task WaitUntilDoneAsync(int jobs, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (Volatile.Read(ref _done) < jobs && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
    }
}
