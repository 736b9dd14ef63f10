using System.Buffers.Binary;
using Wasmtime;

namespace Flotilla.Node.Workflows;

/// <summary>
/// The WASI preview1 functions Flotilla answers itself, defined over Wasmtime's own
/// (<c>AllowShadowing</c>) on the shared linker. Each finds its run through
/// <see cref="RunContext.Of"/>.
/// <list type="bullet">
/// <item><c>fd_read</c> of fd 0 serves the payload from memory: no stdin file, and none of
/// Wasmtime's blocking-pool hop that cost ~240 µs a run.</item>
/// <item><c>fd_write</c> of fd 1 and 2 copies into the run's buffers, cheaper than the
/// wrapper's output callback (~115 µs a run), and enforces the output cap.</item>
/// <item><c>poll_oneoff</c> (sleep) waits through <see cref="RunWatch.Sleep"/>: epoch
/// interruption cannot stop a guest blocked in a host call, so this wait watches the run's
/// deadline and token itself.</item>
/// <item><c>clock_time_get</c> and <c>random_get</c> answer from the run's
/// <see cref="RunContext.Inputs"/>: an absolute <c>poll_oneoff</c> deadline must be read on
/// the clock the guest was given, and a durable run's journal must see every such value.</item>
/// </list>
/// Only fds 0–2 exist (no directories are preopened), so other fds are <c>EBADF</c>. None of
/// these block except <c>poll_oneoff</c>.
/// </summary>
internal static class WasiShims
{
    public const string Module = "wasi_snapshot_preview1";

    private const int Stdin = 0;
    private const int Stdout = 1;
    private const int Stderr = 2;
    private const int IovecSize = 8;
    private const int SubscriptionSize = 48;
    private const int EventSize = 32;

    private const ushort EventClock = 0;
    private const ushort EventFdRead = 1;
    private const ushort EventFdWrite = 2;
    private const ushort SubscriptionAbsoluteTime = 1;

    public static void Define(Linker linker)
    {
        linker.DefineFunction(Module, "fd_read", new CallerFunc<int, int, int, int, int>(FdRead));
        linker.DefineFunction(Module, "fd_write", new CallerFunc<int, int, int, int, int>(FdWrite));
        linker.DefineFunction(Module, "poll_oneoff", new CallerFunc<int, int, int, int, int>(PollOneoff));
        linker.DefineFunction(Module, "clock_time_get", new CallerFunc<int, long, int, int>(ClockTimeGet));
        linker.DefineFunction(Module, "random_get", new CallerFunc<int, int, int>(RandomGet));
    }

    private static int FdRead(Caller caller, int fd, int iovs, int iovsLength, int readPointer)
    {
        if (fd != Stdin)
        {
            return Errno.Badf;
        }

        var run = RunContext.Of(caller);
        if (caller.GetMemory("memory") is not { } memory || !TrySpan(memory, iovs, (long)(uint)iovsLength * IovecSize, out var iovecs))
        {
            return Errno.Fault;
        }

        var total = 0;
        for (var i = 0; i < iovecs.Length && run.StdinRemaining > 0; i += IovecSize)
        {
            if (!TrySpan(memory, ReadInt32(iovecs, i), (uint)ReadInt32(iovecs, i + 4), out var target))
            {
                return Errno.Fault;
            }

            total += run.ReadStdin(target);
        }

        return TryWriteUInt32(memory, readPointer, (uint)total) ? Errno.Success : Errno.Fault;
    }

    private static int FdWrite(Caller caller, int fd, int iovs, int iovsLength, int writtenPointer)
    {
        if (fd is not (Stdout or Stderr))
        {
            return Errno.Badf;
        }

        var run = RunContext.Of(caller);
        if (caller.GetMemory("memory") is not { } memory || !TrySpan(memory, iovs, (long)(uint)iovsLength * IovecSize, out var iovecs))
        {
            return Errno.Fault;
        }

        // Checked in full before anything is copied, so a refused write leaves no partial output.
        long total = 0;
        for (var i = 0; i < iovecs.Length; i += IovecSize)
        {
            var length = (uint)ReadInt32(iovecs, i + 4);
            if (!TrySpan(memory, ReadInt32(iovecs, i), length, out _))
            {
                return Errno.Fault;
            }

            total += length;
        }

        if (fd == Stdout && !run.Stdout.TryReserve(total))
        {
            return Errno.Fbig;
        }

        if (total > uint.MaxValue)
        {
            // Its count would not fit the guest's size_t.
            return Errno.Inval;
        }

        // Stderr keeps only its tail, so only the last OutputTail.Keep bytes are copied: a write
        // of a million iovecs costs a pass over them, not gigabytes of copying.
        var skip = fd == Stdout ? 0 : Math.Max(0, total - OutputTail.Keep);
        for (var i = 0; i < iovecs.Length; i += IovecSize)
        {
            TrySpan(memory, ReadInt32(iovecs, i), (uint)ReadInt32(iovecs, i + 4), out var data);
            if (skip >= data.Length)
            {
                skip -= data.Length;
                continue;
            }

            data = data[(int)skip..];
            skip = 0;
            if (fd == Stdout)
            {
                run.Stdout.Write(data);
            }
            else
            {
                run.Stderr.Write(data);
            }
        }

        return TryWriteUInt32(memory, writtenPointer, (uint)total) ? Errno.Success : Errno.Fault;
    }

    private static int ClockTimeGet(Caller caller, int clock, long precision, int timePointer)
    {
        if (!RunContext.Of(caller).Inputs.TryNow(clock, out var now))
        {
            // What Wasmtime answers for the CPU-time clocks, which it does not offer either.
            return Errno.Badf;
        }

        if (caller.GetMemory("memory") is not { } memory || !TrySpan(memory, timePointer, sizeof(ulong), out var target))
        {
            return Errno.Fault;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(target, now);
        return Errno.Success;
    }

    private static int RandomGet(Caller caller, int buffer, int length)
    {
        if (caller.GetMemory("memory") is not { } memory || !TrySpan(memory, buffer, (uint)length, out var target))
        {
            return Errno.Fault;
        }

        RunContext.Of(caller).Inputs.FillRandom(target);
        return Errno.Success;
    }

    private static int PollOneoff(Caller caller, int subscriptionsPointer, int eventsPointer, int count, int eventCountPointer)
    {
        if (count == 0)
        {
            return Errno.Inval;
        }

        var run = RunContext.Of(caller);
        var n = (uint)count;
        if (caller.GetMemory("memory") is not { } memory
            || !TrySpan(memory, subscriptionsPointer, (long)n * SubscriptionSize, out var subscriptions)
            || !TrySpan(memory, eventsPointer, (long)n * EventSize, out _))
        {
            return Errno.Fault;
        }

        // Events are gathered before any is written: the guest may point both arrays at one buffer.
        var ready = new List<PollEvent>();
        var clocks = new List<(ulong UserData, ulong WaitNanoseconds)>();
        for (var offset = 0; offset < subscriptions.Length; offset += SubscriptionSize)
        {
            var subscription = subscriptions.Slice(offset, SubscriptionSize);
            var userData = BinaryPrimitives.ReadUInt64LittleEndian(subscription);
            var tag = subscription[8];
            // The clock id or the fd, by tag.
            var target = BinaryPrimitives.ReadInt32LittleEndian(subscription[16..]);
            switch (tag)
            {
                case (byte)EventClock:
                    var timeout = BinaryPrimitives.ReadUInt64LittleEndian(subscription[24..]);
                    var flags = BinaryPrimitives.ReadUInt16LittleEndian(subscription[40..]);
                    if (!run.Inputs.TryNow(target, out var now))
                    {
                        ready.Add(new PollEvent(userData, Errno.Inval, EventClock, 0));
                    }
                    else if ((flags & SubscriptionAbsoluteTime) != 0)
                    {
                        clocks.Add((userData, timeout > now ? timeout - now : 0));
                    }
                    else
                    {
                        clocks.Add((userData, timeout));
                    }

                    break;
                // The only fds are stdin (in memory, always readable) and stdout/stderr
                // (buffered, always writable), so fd subscriptions are ready at once.
                case (byte)EventFdRead:
                    ready.Add(target == Stdin
                        ? new PollEvent(userData, Errno.Success, EventFdRead, (ulong)run.StdinRemaining)
                        : new PollEvent(userData, Errno.Badf, EventFdRead, 0));
                    break;
                case (byte)EventFdWrite:
                    ready.Add(target is Stdout or Stderr
                        ? new PollEvent(userData, Errno.Success, EventFdWrite, target == Stdout ? (ulong)run.Stdout.Room : 4096)
                        : new PollEvent(userData, Errno.Badf, EventFdWrite, 0));
                    break;
                default:
                    return Errno.Inval;
            }
        }

        if (ready.Count == 0)
        {
            var soonest = clocks.Min(c => c.WaitNanoseconds);
            run.Watch.Sleep(TimeSpan.FromTicks((long)Math.Min(soonest / 100, (ulong)TimeSpan.MaxValue.Ticks)));
            ready.AddRange(clocks.Where(c => c.WaitNanoseconds <= soonest).Select(c => new PollEvent(c.UserData, Errno.Success, EventClock, 0)));
        }

        // Taken only now, at the length actually written, rather than kept across the wait.
        if (!TrySpan(memory, eventsPointer, (long)ready.Count * EventSize, out var events))
        {
            return Errno.Fault;
        }

        events.Clear();
        for (var i = 0; i < ready.Count; i++)
        {
            var slot = events.Slice(i * EventSize, EventSize);
            BinaryPrimitives.WriteUInt64LittleEndian(slot, ready[i].UserData);
            BinaryPrimitives.WriteUInt16LittleEndian(slot[8..], (ushort)ready[i].Error);
            slot[10] = (byte)ready[i].Type;
            BinaryPrimitives.WriteUInt64LittleEndian(slot[16..], ready[i].Bytes);
        }

        return TryWriteUInt32(memory, eventCountPointer, (uint)ready.Count) ? Errno.Success : Errno.Fault;
    }

    // wasm32 addresses and lengths are unsigned; anything outside the memory is EFAULT.
    private static bool TrySpan(Memory memory, int address, long length, out Span<byte> span)
    {
        var start = (uint)address;
        if (length < 0 || length > int.MaxValue || start + (ulong)length > (ulong)memory.GetLength())
        {
            span = default;
            return false;
        }

        span = memory.GetSpan(start, (int)length);
        return true;
    }

    private static bool TryWriteUInt32(Memory memory, int address, uint value)
    {
        if (!TrySpan(memory, address, sizeof(uint), out var target))
        {
            return false;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(target, value);
        return true;
    }

    private static int ReadInt32(ReadOnlySpan<byte> bytes, int offset) => BinaryPrimitives.ReadInt32LittleEndian(bytes[offset..]);

    private readonly record struct PollEvent(ulong UserData, int Error, ushort Type, ulong Bytes);

    /// <summary>The WASI preview1 error numbers these functions answer with.</summary>
    private static class Errno
    {
        public const int Success = 0;
        public const int Badf = 8;
        public const int Fault = 21;
        public const int Fbig = 22;
        public const int Inval = 28;
    }
}
