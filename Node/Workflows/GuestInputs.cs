using System.Diagnostics;
using System.Security.Cryptography;

namespace Flotilla.Node.Workflows;

/// <summary>
/// The values a guest cannot compute itself and that differ between runs: the time and random
/// bytes (WASI <c>clock_time_get</c>, <c>poll_oneoff</c>'s clocks and <c>random_get</c> all come
/// here). A durable workflow's journal replaces them to record live values and answer replays.
/// </summary>
internal interface IGuestInputs
{
    /// <summary>The clock's time in nanoseconds; false for a clock the host does not offer.</summary>
    bool TryNow(int clock, out ulong nanoseconds);

    void FillRandom(Span<byte> destination);
}

/// <summary>The host's own clocks and its cryptographic random generator.</summary>
internal sealed class LiveInputs : IGuestInputs
{
    public const int Realtime = 0;
    public const int Monotonic = 1;

    public static readonly LiveInputs Instance = new();

    private LiveInputs()
    {
    }

    /// <summary>Realtime (0) and monotonic (1), as WASI defines them; not the CPU-time clocks (as Wasmtime).</summary>
    public bool TryNow(int clock, out ulong nanoseconds)
    {
        switch (clock)
        {
            case Realtime:
                nanoseconds = (ulong)(DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
                return true;
            case Monotonic:
                // Arbitrary origin (allowed for WASI's monotonic clock); integer arithmetic keeps
                // the nanoseconds a double conversion would lose after a few months of uptime.
                nanoseconds = (ulong)((Int128)Stopwatch.GetTimestamp() * 1_000_000_000 / Stopwatch.Frequency);
                return true;
            default:
                nanoseconds = 0;
                return false;
        }
    }

    public void FillRandom(Span<byte> destination) => RandomNumberGenerator.Fill(destination);
}
