using System.Buffers.Binary;

namespace Flotilla.Node.Workflows.Durable;

/// <summary>
/// The WASI clock and randomness of a durable guest, through its journal: ordinary
/// <c>time()</c> and <c>rand()</c> code replays the values of the first run.
/// </summary>
internal sealed class JournalInputs(RunJournal journal, TimeProvider time) : IGuestInputs
{
    private ulong _lastMonotonic;

    public bool TryNow(int clock, out ulong nanoseconds)
    {
        switch (clock)
        {
            case LiveInputs.Realtime:
                nanoseconds = ReadU64(journal.Call("clock_time_get", "clock_time_get realtime", () => U64(RealtimeNanoseconds()), NowMs()));
                return true;
            case LiveInputs.Monotonic:
                // A replay may go live on another node, whose own monotonic origin is unrelated:
                // derive it from the realtime clock, never below the last value the guest saw
                // (replayed ones included), so it stays monotonic across nodes and attempts.
                var value = ReadU64(journal.Call("clock_time_get", "clock_time_get monotonic", () => U64(Math.Max(RealtimeNanoseconds(), _lastMonotonic)), NowMs()));
                _lastMonotonic = Math.Max(_lastMonotonic, value);
                nanoseconds = value;
                return true;
            default:
                // Not offered (as for plain runs); the same answer on every attempt, so nothing to journal.
                nanoseconds = 0;
                return false;
        }
    }

    public void FillRandom(Span<byte> destination)
    {
        var length = destination.Length;
        journal.Call("random_get", $"random_get {length}", () => LiveRandom(length), NowMs()).CopyTo(destination);
    }

    internal static byte[] LiveRandom(int length)
    {
        var bytes = new byte[length];
        LiveInputs.Instance.FillRandom(bytes);
        return bytes;
    }

    internal static byte[] U64(ulong value)
    {
        var bytes = new byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }

    internal static ulong ReadU64(byte[] bytes) =>
        bytes.Length == sizeof(ulong) ? BinaryPrimitives.ReadUInt64LittleEndian(bytes) : throw new InvalidDataException("a journaled time is not 8 bytes");

    private ulong RealtimeNanoseconds() => (ulong)(time.GetUtcNow().UtcTicks - DateTime.UnixEpoch.Ticks) * 100;

    private long NowMs() => time.GetUtcNow().ToUnixTimeMilliseconds();
}
