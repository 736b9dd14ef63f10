using System.Diagnostics;

namespace Flotilla.Node.Workflows;

/// <summary>Why a run was stopped from outside the guest.</summary>
internal enum StopReason
{
    Timeout,
    Cancelled,
}

/// <summary>
/// One run's deadline and cancellation. Wasm code is stopped by the epoch callback; a guest
/// blocked in a host call never reaches that callback, so every host function that waits
/// must wait through <see cref="Sleep"/>, which watches the same deadline and token.
/// </summary>
internal sealed class RunWatch(TimeSpan timeout, CancellationToken token)
{
    private readonly long _started = Stopwatch.GetTimestamp();

    public StopReason? Stopped { get; private set; }

    /// <summary>The epoch callback: one more tick while the run may go on, else stops it.</summary>
    public ulong OnEpochDeadline()
    {
        ThrowIfStopping();
        return 1;
    }

    /// <summary>
    /// Blocks the guest's thread for <paramref name="duration"/>, unless the run's deadline
    /// passes or it is cancelled first: then the guest is stopped at once.
    /// </summary>
    public void Sleep(TimeSpan duration)
    {
        var wakeAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            ThrowIfStopping();
            var now = Stopwatch.GetTimestamp();
            if (now >= wakeAt)
            {
                return;
            }

            var untilWake = Stopwatch.GetElapsedTime(now, wakeAt);
            var untilDeadline = timeout - Stopwatch.GetElapsedTime(_started, now);
            var wait = untilWake < untilDeadline ? untilWake : untilDeadline;
            // Rounded up to whole milliseconds (the wait's resolution), so a sub-millisecond
            // remainder sleeps once instead of spinning; capped to what WaitOne accepts.
            var waitMs = (int)Math.Min(int.MaxValue - 1, Math.Ceiling(Math.Max(0, wait.TotalMilliseconds)));
            token.WaitHandle.WaitOne(waitMs);
        }
    }

    // A plain epoch trap (no callback ran) still means the deadline passed.
    public void NoteInterrupt(bool interrupted)
    {
        if (interrupted && Stopped is null)
        {
            Stopped = token.IsCancellationRequested ? StopReason.Cancelled : StopReason.Timeout;
        }
    }

    private void ThrowIfStopping()
    {
        if (token.IsCancellationRequested)
        {
            Stopped = StopReason.Cancelled;
        }
        else if (Stopwatch.GetElapsedTime(_started) >= timeout)
        {
            Stopped = StopReason.Timeout;
        }
        else
        {
            return;
        }

        // Throwing ends the guest; Wasmtime hands this back wrapped, and Stopped says why.
        throw new OperationCanceledException("workflow run stopped");
    }
}
