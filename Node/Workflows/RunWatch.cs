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
/// must wait through <see cref="Sleep"/> or <see cref="Wait"/>, which watch the same deadline
/// and token.
/// </summary>
internal sealed class RunWatch(TimeSpan timeout, CancellationToken token)
{
    // Longer than any run may last; keeps a guest's u64 sleep within the arithmetic's range.
    private static readonly TimeSpan LongestSleep = TimeSpan.FromDays(365);

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
        var wakeAt = Stopwatch.GetTimestamp() + (long)(Math.Min(duration.TotalSeconds, LongestSleep.TotalSeconds) * Stopwatch.Frequency);
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
            token.WaitHandle.WaitOne(WholeMilliseconds(untilWake < untilDeadline ? untilWake : untilDeadline));
        }
    }

    /// <summary>
    /// Blocks the guest's thread until <paramref name="task"/> (a commit, an HTTP call) is
    /// done, unless the run's deadline passes or it is cancelled first: then the guest is
    /// stopped at once. The caller reads the task's result afterwards.
    /// </summary>
    public void Wait(Task task)
    {
        while (!task.IsCompleted)
        {
            ThrowIfStopping();
            var waitMs = WholeMilliseconds(timeout - Stopwatch.GetElapsedTime(_started));
            WaitHandle.WaitAny([((IAsyncResult)task).AsyncWaitHandle, token.WaitHandle], waitMs);
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

    // Rounded up (the waits' resolution is a millisecond), so a sub-millisecond remainder
    // waits once instead of spinning; capped to what the waits accept.
    private static int WholeMilliseconds(TimeSpan wait) =>
        (int)Math.Min(int.MaxValue - 1, Math.Ceiling(Math.Max(0, wait.TotalMilliseconds)));

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
