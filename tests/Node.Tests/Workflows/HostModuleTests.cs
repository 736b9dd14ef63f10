using System.Diagnostics;
using System.Text.Json;
using Flotilla.Node.Workflows;
using Wasmtime;

namespace Flotilla.Node.Tests.Workflows;

/// <summary>The seam later host imports (the durable journal) plug into.</summary>
public sealed class HostModuleTests : IDisposable
{
    // Exits with what the host's attempt_code() answers for this run.
    private const string AttemptCodeWat = """
        (module
          (import "flotilla_test" "attempt_code" (func $code (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          (func (export "_start") (call $exit (call $code))))
        """;

    // Calls a host function that waits on work that never finishes.
    private const string BlockWat = """
        (module
          (import "flotilla_test" "block" (func $block))
          (memory (export "memory") 1)
          (func (export "_start") (call $block)))
        """;

    // Prints [realtime clock ns (low 32 bits), first random byte].
    private const string InputsWat = $$"""
        (module
          (import "wasi_snapshot_preview1" "clock_time_get" (func $now (param i32 i64 i32) (result i32)))
          (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          {{TempRunner.WatItoa}}
          (func (export "_start")
            (local $end i32)
            (drop (call $now (i32.const 0) (i64.const 0) (i32.const 16)))
            (drop (call $random (i32.const 24) (i32.const 4)))
            (i32.store8 (i32.const 1024) (i32.const 91))
            (local.set $end (call $itoa (i32.wrap_i64 (i64.load (i32.const 16))) (i32.const 1025)))
            (i32.store8 (local.get $end) (i32.const 44))
            (local.set $end (call $itoa (i32.load8_u (i32.const 24)) (i32.add (local.get $end) (i32.const 1))))
            (i32.store8 (local.get $end) (i32.const 93))
            (i32.store (i32.const 0) (i32.const 1024))
            (i32.store (i32.const 4) (i32.sub (i32.add (local.get $end) (i32.const 1)) (i32.const 1024)))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
        """;

    private readonly TempRunner _runners = new();

    public void Dispose() => _runners.Dispose();

    [Fact]
    public async Task HostFunctionsSeeTheStateOfTheirOwnRun()
    {
        var runner = _runners.Open(hostModules: new TestHostModule());
        var module = TempRunner.Wat(AttemptCodeWat);

        var outcomes = await Task.WhenAll(Enumerable.Range(1, 8).Select(attempt =>
            runner.RunAsync(TempRunner.NewRun(module) with { Attempt = attempt }, () => module, CancellationToken.None)));

        Assert.Equal(Enumerable.Range(1, 8).Select(a => $"exit code {a + 40}"), outcomes.Select(o => o.Error));
    }

    [Fact]
    public async Task AHostFunctionBlockedOnWorkIsStoppedByTheTimeout()
    {
        var runner = _runners.Open(hostModules: new TestHostModule());
        var watch = Stopwatch.StartNew();

        var outcome = await TempRunner.RunAsync(runner, TempRunner.Wat(BlockWat), timeout: TimeSpan.FromMilliseconds(300));

        Assert.Equal("timeout after 300ms", outcome.Error);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1.3), $"stopped after {watch.Elapsed}");
    }

    [Fact]
    public async Task AHostModuleCanReplaceTheGuestsClockAndRandomness()
    {
        var runner = _runners.Open(hostModules: new TestHostModule { FixInputs = true });

        var outcome = await TempRunner.RunAsync(runner, TempRunner.Wat(InputsWat));

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal([1234, 42], JsonSerializer.Deserialize<int[]>(outcome.Result!)!);
    }

    [Fact]
    public async Task WithoutOneTheGuestGetsTheUnixTimeInNanoseconds()
    {
        static ulong Now() => (ulong)(DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
        var runner = _runners.Open();
        var module = TempRunner.Wat(InputsWat);
        Assert.True((await TempRunner.RunAsync(runner, module)).Succeeded); // compiled outside the window
        var before = Now();

        var outcome = await TempRunner.RunAsync(runner, module);

        var window = Now() - before;
        Assert.True(outcome.Succeeded, outcome.Error);
        // Only the low 32 bits travel (~4.3 s of nanoseconds): they must fall inside the window.
        var low = JsonSerializer.Deserialize<long[]>(outcome.Result!)![0];
        Assert.InRange(unchecked((uint)low - (uint)before), 0u, (uint)window);
    }

    private sealed record AttemptState(int Code);

    private sealed class FixedInputs : IGuestInputs
    {
        public bool TryNow(int clock, out ulong nanoseconds)
        {
            nanoseconds = 1234;
            return true;
        }

        public void FillRandom(Span<byte> destination) => destination.Fill(42);
    }

    private sealed class TestHostModule : IHostModule
    {
        public bool FixInputs { get; init; }

        public void Define(Linker linker)
        {
            linker.DefineFunction("flotilla_test", "attempt_code", new CallerFunc<int>(caller => RunContext.Of(caller).Get<AttemptState>()!.Code));
            linker.DefineFunction("flotilla_test", "block", new CallerAction(caller => RunContext.Of(caller).Watch.Wait(new TaskCompletionSource().Task)));
        }

        public void Prepare(RunContext context, Wasmtime.Module module)
        {
            context.Set(new AttemptState(context.Run.Attempt + 40));
            if (FixInputs)
            {
                context.Inputs = new FixedInputs();
            }
        }
    }
}
