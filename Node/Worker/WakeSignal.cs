namespace Flotilla.Node.Worker;

/// <summary>
/// An auto-reset wake-up that coalesces: any number of signals while the worker is busy
/// amount to one more look at the queue, never a backlog of wake-ups.
/// </summary>
internal sealed class WakeSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);
    private int _set;

    // Signalled already: one pending wake-up is all the worker needs. (Releasing a full
    // semaphore throws, and this is called on every applied entry.)
    public void Set()
    {
        if (Interlocked.Exchange(ref _set, 1) == 0)
        {
            _signal.Release();
        }
    }

    /// <summary>Waits for a signal or the timeout; true if signalled.</summary>
    /// <remarks>A signal that arrives after the wake-up but before the caller looks at its state is
    /// not lost: the state it announces is already there when the caller looks.</remarks>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken token)
    {
        var signalled = await _signal.WaitAsync(timeout, token).ConfigureAwait(false);
        if (signalled)
        {
            Volatile.Write(ref _set, 0);
        }

        return signalled;
    }
}
