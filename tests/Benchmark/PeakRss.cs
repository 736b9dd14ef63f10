namespace Flotilla.Benchmark;

/// <summary>
/// The highest resident memory of each process while it runs, read once a second: a node's RSS
/// moves (the mapped log, the GC's budget), so one reading after a run says little about its
/// ceiling.
/// </summary>
internal sealed class PeakRss : IAsyncDisposable
{
    private readonly int[] _pids;
    private readonly long[] _peaks;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampling;

    public PeakRss(int[] pids)
    {
        _pids = pids;
        _peaks = new long[pids.Length];
        _sampling = Task.Run(SampleAsync);
    }

    /// <summary>The highest reading of each process so far, in the order given.</summary>
    public IReadOnlyList<long> Peaks
    {
        get
        {
            Sample();
            return _peaks;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampling.ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    private async Task SampleAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        do
        {
            Sample();
        }
        while (await timer.WaitForNextTickAsync(_stop.Token));
    }

    private void Sample()
    {
        lock (_peaks)
        {
            for (var i = 0; i < _pids.Length; i++)
            {
                _peaks[i] = Math.Max(_peaks[i], ProcessStats.RssBytes(_pids[i]));
            }
        }
    }
}
