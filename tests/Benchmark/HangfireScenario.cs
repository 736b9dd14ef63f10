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
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        using (var server = new BackgroundJobServer())
        {
            for (var i = 0; i < options.Jobs; i++)
            {
                BackgroundJob.Enqueue(() => Noop());
            }

            var submitted = watch.Elapsed;
            report.Add("hangfire.inmemory enqueue", options.Jobs / submitted.TotalSeconds, "jobs/s");
            var deadline = DateTime.UtcNow.AddMinutes(5);
            while (Volatile.Read(ref _done) < options.Jobs && DateTime.UtcNow < deadline)
            {
                await Task.Delay(10);
            }

            watch.Stop();
            if (Volatile.Read(ref _done) < options.Jobs)
            {
                report.Fail($"hangfire finished only {_done} of {options.Jobs} jobs");
                return;
            }
        }

        report.Add("hangfire.inmemory end-to-end", options.Jobs / watch.Elapsed.TotalSeconds, "jobs/s");
        report.Add("hangfire.inmemory cpu per job", (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / options.Jobs, "µs");
    }
}
