using System.Diagnostics;
using System.Text.Json;
using Flotilla.Node.Workflows;

namespace Flotilla.Node.Tests.Workflows;

/// <summary>Deadlines, cancellation and caps hold also where epoch interruption cannot reach.</summary>
public sealed class WasmRunnerLimitsTests : IDisposable
{
    // Grows its memory a page at a time and its table 1024 entries at a time until each is
    // refused, tries one table.grow of 200M entries, then prints [memory pages, table entries].
    private const string MemoryAndTableHogWat = $$"""
        (module
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (table $t 1 funcref)
          {{TempRunner.WatItoa}}
          (func (export "_start")
            (local $end i32)
            (loop $m (br_if $m (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
            (loop $t (br_if $t (i32.ne (table.grow $t (ref.null func) (i32.const 1024)) (i32.const -1))))
            (drop (table.grow $t (ref.null func) (i32.const 200000000)))
            (i32.store8 (i32.const 1024) (i32.const 91))
            (local.set $end (call $itoa (memory.size) (i32.const 1025)))
            (i32.store8 (local.get $end) (i32.const 44))
            (local.set $end (call $itoa (table.size $t) (i32.add (local.get $end) (i32.const 1))))
            (i32.store8 (local.get $end) (i32.const 93))
            (i32.store (i32.const 0) (i32.const 1024))
            (i32.store (i32.const 4) (i32.sub (i32.add (local.get $end) (i32.const 1)) (i32.const 1024)))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
        """;

    // A second memory, grown until refused: with one cap per memory it would double the cap.
    private const string TwoMemoriesWat = """
        (module
          (memory $a (export "memory") 1)
          (memory $b 1)
          (func (export "_start")
            (loop $grow (br_if $grow (i32.ne (memory.grow $b (i32.const 16)) (i32.const -1))))))
        """;

    // Writes 100 bytes to stdout again and again until a write fails, then returns.
    private const string WriteUntilRefusedWat = """
        (module
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "_start")
            (i32.store (i32.const 0) (i32.const 1024))
            (i32.store (i32.const 4) (i32.const 100))
            (loop $write
              (br_if $write (i32.eqz (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))))
        """;

    // Reads the monotonic clock, sleeps until it reads 100 ms more (an absolute poll_oneoff
    // deadline), reads it again, and prints [elapsed ms, events, userdata, error, type].
    private const string AbsoluteSleepWat = $$"""
        (module
          (import "wasi_snapshot_preview1" "clock_time_get" (func $now (param i32 i64 i32) (result i32)))
          (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          {{TempRunner.WatItoa}}
          (func $put (param $n i32) (param $at i32) (result i32)
            (local $end i32)
            (local.set $end (call $itoa (local.get $n) (local.get $at)))
            (i32.store8 (local.get $end) (i32.const 44))
            (i32.add (local.get $end) (i32.const 1)))
          (func (export "_start")
            (local $start i64) (local $end i32)
            (drop (call $now (i32.const 1) (i64.const 0) (i32.const 0)))
            (local.set $start (i64.load (i32.const 0)))
            (i64.store (i32.const 64) (i64.const 7))
            (i32.store8 (i32.const 72) (i32.const 0))
            (i32.store (i32.const 80) (i32.const 1))
            (i64.store (i32.const 88) (i64.add (local.get $start) (i64.const 100000000)))
            (i64.store (i32.const 96) (i64.const 0))
            (i32.store16 (i32.const 104) (i32.const 1))
            (drop (call $poll (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 160)))
            (drop (call $now (i32.const 1) (i64.const 0) (i32.const 0)))
            (i32.store8 (i32.const 1024) (i32.const 91))
            (local.set $end (call $put (i32.wrap_i64 (i64.div_u (i64.sub (i64.load (i32.const 0)) (local.get $start)) (i64.const 1000000))) (i32.const 1025)))
            (local.set $end (call $put (i32.load (i32.const 160)) (local.get $end)))
            (local.set $end (call $put (i32.wrap_i64 (i64.load (i32.const 128))) (local.get $end)))
            (local.set $end (call $put (i32.load16_u (i32.const 136)) (local.get $end)))
            (local.set $end (call $itoa (i32.load8_u (i32.const 138)) (local.get $end)))
            (i32.store8 (local.get $end) (i32.const 93))
            (i32.store (i32.const 0) (i32.const 1024))
            (i32.store (i32.const 4) (i32.sub (i32.add (local.get $end) (i32.const 1)) (i32.const 1024)))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
        """;

    // One fd_write to stderr of a million iovecs, each the same 4000 bytes of 'e' (4 GB in all),
    // then exit code 3.
    private const string HugeStderrWriteWat = """
        (module
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 200)
          (func (export "_start")
            (local $i i32)
            (memory.fill (i32.const 0) (i32.const 101) (i32.const 4000))
            (loop $fill
              (i32.store (i32.add (i32.const 65536) (i32.mul (local.get $i) (i32.const 8))) (i32.const 0))
              (i32.store (i32.add (i32.const 65540) (i32.mul (local.get $i) (i32.const 8))) (i32.const 4000))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $fill (i32.lt_u (local.get $i) (i32.const 1000000))))
            (drop (call $fd_write (i32.const 2) (i32.const 65536) (i32.const 1000000) (i32.const 60000)))
            (call $exit (i32.const 3))))
        """;

    private readonly TempRunner _runners = new();

    public void Dispose() => _runners.Dispose();

    [Fact]
    public async Task ASleepingGuestIsStoppedByItsTimeout()
    {
        var runner = await WarmRunnerAsync();
        var watch = Stopwatch.StartNew();

        var outcome = await TempRunner.RunAsync(runner, BuiltinWorkflows.Get("sleep"), """{"ms": 600000}""", TimeSpan.FromSeconds(1));

        Assert.Equal("timeout after 1s", outcome.Error);
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(1), $"stopped after {watch.Elapsed}");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1.5), $"stopped after {watch.Elapsed}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1000)]
    public async Task ARunWithoutAPositiveTimeoutFailsWithoutRunning(int milliseconds)
    {
        // The worker always passes one (job, workflow, Worker:DefaultTimeoutMs); no silent default here.
        var outcome = await TempRunner.RunAsync(_runners.Open(), BuiltinWorkflows.Get("sleep"), """{"ms": 600000}""", TimeSpan.FromMilliseconds(milliseconds));

        Assert.False(outcome.Succeeded);
        Assert.StartsWith("no positive timeout for the run", outcome.Error);
    }

    [Fact]
    public async Task CancellingASleepingGuestStopsItAtOnce()
    {
        var runner = await WarmRunnerAsync();
        using var cancel = new CancellationTokenSource();
        var running = TempRunner.RunAsync(runner, BuiltinWorkflows.Get("sleep"), """{"ms": 600000}""", TimeSpan.FromMinutes(5), cancel.Token);
        await Task.Delay(300);
        var cancelledAt = Stopwatch.GetTimestamp();
        await cancel.CancelAsync();

        var outcome = await running;

        var afterCancel = Stopwatch.GetElapsedTime(cancelledAt);
        Assert.Equal("cancelled", outcome.Error);
        Assert.True(afterCancel < TimeSpan.FromMilliseconds(100) + WasmRunner.EpochTick, $"stopped {afterCancel.TotalMilliseconds:F0} ms after the cancel");
    }

    // The clock of a timing test must not include compiling the module (hundreds of ms on a
    // busy 2-core box).
    private async Task<WasmRunner> WarmRunnerAsync()
    {
        var runner = _runners.Open();
        Assert.True((await TempRunner.RunAsync(runner, BuiltinWorkflows.Get("sleep"), """{"ms": 0}""")).Succeeded);
        return runner;
    }

    [Fact]
    public async Task AnAbsoluteSleepOnTheMonotonicClockWakesOnTime()
    {
        var outcome = await TempRunner.RunAsync(_runners.Open(), TempRunner.Wat(AbsoluteSleepWat));

        Assert.True(outcome.Succeeded, outcome.Error);
        var fields = JsonSerializer.Deserialize<int[]>(outcome.Result!)!;
        Assert.InRange(fields[0], 100, 1000);
        // One event: the subscription's userdata (7), no error, type clock (0).
        Assert.Equal([1, 7, 0, 0], fields[1..]);
    }

    [Fact]
    public async Task MemoryAndTablesTogetherStayUnderTheCap()
    {
        const long cap = 4 * 1024 * 1024;
        var runner = _runners.Open(o => o.MaxMemoryBytes = cap);

        var outcome = await TempRunner.RunAsync(runner, TempRunner.Wat(MemoryAndTableHogWat));

        Assert.True(outcome.Succeeded, outcome.Error);
        var sizes = JsonSerializer.Deserialize<long[]>(outcome.Result!)!;
        var (pages, entries) = (sizes[0], sizes[1]);
        Assert.True(pages > 32 && entries > 1024, $"{pages} pages, {entries} table entries: the guest could hardly grow");
        Assert.True((pages * 65536) + (entries * 8) <= cap, $"{pages} pages and {entries} table entries pass the {cap}-byte cap");
    }

    [Theory]
    [InlineData(TwoMemoriesWat, "defined memories count of 2 exceeds the per-instance limit of 1")]
    [InlineData("""(module (memory (export "memory") 100) (func (export "_start")))""", "memory has a minimum byte size of 6553600 which exceeds the limit of 0x3c0000 bytes")]
    [InlineData("""(module (memory (export "memory") 1) (table 1 funcref) (table 1 funcref) (table 1 funcref) (func (export "_start")))""", "defined tables count of 3 exceeds the per-instance limit of 2")]
    [InlineData("""(module (memory (export "memory") 1) (table 20000 funcref) (func (export "_start")))""", "table index 0 has a minimum element size of 20000 which exceeds the limit of 16384")]
    public async Task AModuleThatDeclaresMoreThanTheCapIsRefused(string wat, string reason)
    {
        var runner = _runners.Open(o => o.MaxMemoryBytes = 4 * 1024 * 1024);
        var module = TempRunner.Wat(wat);

        // Refused when registered, and (should it be stored anyway) when run.
        Assert.EndsWith(reason, runner.Validate(module));
        var outcome = await TempRunner.RunAsync(runner, module);
        Assert.False(outcome.Succeeded);
        Assert.EndsWith(reason, outcome.Error);
    }

    [Fact]
    public async Task AOneMebibytePayloadIsReadIntact()
    {
        var runner = _runners.Open(o => o.MaxOutputBytes = 2 * 1024 * 1024);
        var random = new Random(6);
        var text = string.Create(1024 * 1024, random, (span, r) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = (char)r.Next('a', 'z' + 1);
            }
        });

        var outcome = await TempRunner.RunAsync(runner, BuiltinWorkflows.Get("echo"), JsonSerializer.Serialize(new { text }));

        Assert.True(outcome.Succeeded, outcome.Error);
        using var result = JsonDocument.Parse(outcome.Result!);
        Assert.Equal(text, result.RootElement.GetProperty("payload").GetProperty("text").GetString());
    }

    [Fact]
    public async Task WritesPastTheOutputCapAreRefused()
    {
        var runner = _runners.Open(o => o.MaxOutputBytes = 1024);
        var watch = Stopwatch.StartNew();

        // The guest stops only when a write fails; without the cap it would run into its timeout.
        var outcome = await TempRunner.RunAsync(runner, TempRunner.Wat(WriteUntilRefusedWat), timeout: TimeSpan.FromSeconds(20));

        Assert.Equal("output over 1 KiB", outcome.Error);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"ended after {watch.Elapsed}");
    }

    [Fact]
    public async Task AHugeStderrWriteCostsOnlyItsTail()
    {
        var outcome = await TempRunner.RunAsync(_runners.Open(), TempRunner.Wat(HugeStderrWriteWat), timeout: TimeSpan.FromSeconds(3));

        Assert.Equal($"exit code 3: …{new string('e', 200)}", outcome.Error);
    }

    [Fact]
    public async Task RunsBeyondThePoolWaitForASlot()
    {
        var runner = _runners.Open(o => o.MaxConcurrentRuns = 2);
        var sleep = BuiltinWorkflows.Get("sleep");

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => TempRunner.RunAsync(runner, sleep, """{"ms": 50}""")));

        Assert.All(outcomes, o => Assert.True(o.Succeeded, o.Error));
    }

    [Fact]
    public async Task CancellingARunThatWaitsForASlotEndsIt()
    {
        var runner = _runners.Open(o => o.MaxConcurrentRuns = 1);
        var sleep = BuiltinWorkflows.Get("sleep");
        var holder = TempRunner.RunAsync(runner, sleep, """{"ms": 500}""");
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        var waiting = await TempRunner.RunAsync(runner, sleep, """{"ms": 1}""", token: cancel.Token);

        Assert.Equal("cancelled", waiting.Error);
        var held = await holder;
        Assert.True(held.Succeeded, held.Error);
    }
}
