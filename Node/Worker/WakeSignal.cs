namespace Flotilla.Node.Worker;

/// <summary>
/// An auto-reset wake-up that coalesces: any number of signals while the worker is busy
/// amount to one more look at the queue, never a backlog of wake-ups.
/// </summary>
internal sealed class WakeSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Set()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: one pending wake-up is all the worker needs.
        }
    }

    /// <summary>Waits for a signal or the timeout; true if signalled.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken token) => _signal.WaitAsync(timeout, token);
}
