using System.Diagnostics;

namespace Flotilla.Benchmark;

/// <summary>Closed-loop load: <c>clients</c> callers, each calling again as soon as its call returns.</summary>
internal static class Load
{
    public static async Task<(long Count, List<double> LatenciesMs)> ForAsync(int clients, int seconds, Func<CancellationToken, Task> call)
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        long count = 0;
        var latencies = new List<double>();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            var mine = new List<double>();
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await call(stop.Token);
                    Interlocked.Increment(ref count);
                    mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
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

    public static double Percentile(List<double> values, int p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        values.Sort();
        return values[Math.Min(values.Count - 1, values.Count * p / 100)];
    }
}
