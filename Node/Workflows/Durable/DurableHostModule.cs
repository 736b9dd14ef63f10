using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Options;
using Wasmtime;

namespace Flotilla.Node.Workflows.Durable;

/// <summary>
/// The <c>flotilla</c> import module of durable workflows. A guest that imports anything from it
/// is durable: its <c>now_ms</c>, <c>random_bytes</c>, <c>sleep_ms</c> and its WASI clock and
/// randomness go through the run's <see cref="RunJournal"/> (<see cref="WorkflowRun.Journal"/>),
/// so a later attempt replays them. Other guests run exactly as before: nothing is loaded for them.
/// A sleep of at least <see cref="DurableOptions.ParkThresholdMs"/> parks the job instead of
/// holding its slot (see <see cref="RunJournal.Park"/>).
/// </summary>
internal sealed partial class DurableHostModule(TimeProvider time, IOptions<DurableOptions>? options = null) : IHostModule
{
    public const string ModuleName = "flotilla";

    /// <summary>The largest single response the journal keeps (<c>random_bytes</c> beyond it answers -2).</summary>
    public const int MaxEntryBytes = RunJournal.MaxEntryBytes;

    /// <summary>
    /// A sleep at least this long first commits the calls made so far: it is where a run is most
    /// likely to lose its node, and it costs far more than one commit (a few ms).
    /// </summary>
    public const long CommitBeforeSleepMs = 1000;

    private const int LogMaxBytes = 4096;
    private const int BadArgument = -1;
    private const int TooLarge = -2;

    private readonly long _parkThresholdMs = (options?.Value ?? new DurableOptions()).ParkThresholdMs;

    public void Define(Linker linker)
    {
        linker.DefineFunction(ModuleName, "now_ms", new CallerFunc<long>(NowMs));
        linker.DefineFunction(ModuleName, "random_bytes", new CallerFunc<int, int, int>(RandomBytes));
        linker.DefineFunction(ModuleName, "sleep_ms", new CallerFunc<long, int>(SleepMs));
        linker.DefineFunction(ModuleName, "log", new CallerAction<int, int, int>(Log));
        DefineCalls(linker);
    }

    public void Prepare(RunContext context, Module module)
    {
        if (!module.Imports.Any(i => i.ModuleName == ModuleName))
        {
            return;
        }

        var journal = context.Run.Journal ?? RunJournal.Empty();
        journal.Open();
        context.Set(journal);
        context.Inputs = new JournalInputs(journal, time);
    }

    private long NowMs(Caller caller) =>
        (long)JournalInputs.ReadU64(Journal(caller).Call("now_ms", "now_ms", () => JournalInputs.U64((ulong)UnixMs()), UnixMs()));

    private int RandomBytes(Caller caller, int pointer, int length)
    {
        if (length < 0)
        {
            return BadArgument;
        }

        if (length > MaxEntryBytes)
        {
            return TooLarge;
        }

        if (!TrySpan(caller, pointer, length, out _))
        {
            return BadArgument;
        }

        var bytes = Journal(caller).Call("random_bytes", $"random_bytes {length}", () => JournalInputs.LiveRandom(length), UnixMs());
        // Taken again after the call: the journal's answer is copied into the memory as it is now.
        TrySpan(caller, pointer, length, out var target);
        bytes.CopyTo(target);
        return 0;
    }

    // Journaled as the absolute wake-up time, so a replay after the wake-up returns at once and
    // one before it sleeps only what is left.
    private int SleepMs(Caller caller, long milliseconds)
    {
        if (milliseconds < 0)
        {
            return BadArgument;
        }

        var run = RunContext.Of(caller);
        var journal = Journal(caller);
        var wakeAt = (long)JournalInputs.ReadU64(journal.Call(
            "sleep_ms", $"sleep_ms {milliseconds}", () => JournalInputs.U64((ulong)(UnixMs() + milliseconds)), UnixMs()));
        var left = wakeAt - UnixMs();
        if (left >= _parkThresholdMs && journal.CanPark)
        {
            // Stops the guest: the worker commits the journal (this sleep's wake-up time last)
            // with the job parked until then, and a run after the wake-up replays to here and
            // goes on. A replay that finds the wake-up still ahead (another node's clock) parks again.
            throw journal.Park(wakeAt);
        }

        if (left >= CommitBeforeSleepMs)
        {
            journal.CommitPending(run.Watch);
            left = wakeAt - UnixMs();
        }

        if (left > 0)
        {
            // Through the run's watch: a sleep past the deadline or a cancel stops the guest.
            run.Watch.Sleep(TimeSpan.FromMilliseconds(left));
        }

        return 0;
    }

    // Not journaled; not repeated while the guest re-does calls an earlier attempt made.
    private void Log(Caller caller, int level, int pointer, int length)
    {
        if (Journal(caller).Replaying || length < 0 || !TrySpan(caller, pointer, Math.Min(length, LogMaxBytes), out var text))
        {
            return;
        }

        var tags = new ActivityTagsCollection
        {
            ["level"] = level,
            ["message"] = Encoding.UTF8.GetString(text),
        };
        Activity.Current?.AddEvent(new ActivityEvent("flotilla.log", tags: tags));
    }

    private static RunJournal Journal(Caller caller) =>
        RunContext.Of(caller).Get<RunJournal>() ?? throw new InvalidOperationException("a flotilla import ran without a journal");

    private long UnixMs() => time.GetUtcNow().ToUnixTimeMilliseconds();

    private static bool TrySpan(Caller caller, int address, int length, out Span<byte> span)
    {
        var start = (uint)address;
        if (caller.GetMemory("memory") is not { } memory || start + (ulong)(uint)length > (ulong)memory.GetLength())
        {
            span = default;
            return false;
        }

        span = memory.GetSpan(start, length);
        return true;
    }
}
