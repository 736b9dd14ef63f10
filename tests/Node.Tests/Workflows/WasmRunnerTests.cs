using System.Diagnostics;
using System.Text.Json;
using Flotilla.Node.Workflows;

namespace Flotilla.Node.Tests.Workflows;

public sealed class WasmRunnerTests : IDisposable
{
    // Writes "hello, not json" to stdout and returns.
    private const string NotJsonWat = """
        (module
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 16) "hello, not json")
          (func (export "_start")
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (i32.const 15))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
        """;

    // Grows memory a MiB at a time until refused, then aborts the way a failed malloc would.
    private const string MemoryHogWat = """
        (module
          (memory (export "memory") 1)
          (func (export "_start")
            (loop $grow
              (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
            unreachable))
        """;

    private readonly TempRunner _runners = new();

    public void Dispose() => _runners.Dispose();

    [Fact]
    public async Task EchoReturnsThePayloadAndWhoRanIt()
    {
        var runner = _runners.Open();

        var outcome = await TempRunner.RunAsync(runner, BuiltinWorkflows.Get("echo"), """{"hello": [1, 2, "three"]}""");

        Assert.True(outcome.Succeeded, outcome.Error);
        using var result = JsonDocument.Parse(outcome.Result!);
        Assert.Equal("three", result.RootElement.GetProperty("payload").GetProperty("hello")[2].GetString());
        Assert.Equal("node-a", result.RootElement.GetProperty("node").GetString());
        Assert.Equal("job-1", result.RootElement.GetProperty("job_id").GetString());
        Assert.Equal(1, result.RootElement.GetProperty("attempt").GetInt32());
    }

    [Fact]
    public async Task SleepSleepsAndReportsIt()
    {
        var runner = _runners.Open();
        var watch = Stopwatch.StartNew();

        var outcome = await TempRunner.RunAsync(runner, BuiltinWorkflows.Get("sleep"), """{"ms": 120}""");

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(110), $"returned after {watch.Elapsed}");
        using var result = JsonDocument.Parse(outcome.Result!);
        Assert.Equal(120, result.RootElement.GetProperty("slept_ms").GetInt32());
        Assert.Equal("node-a", result.RootElement.GetProperty("node").GetString());
    }

    [Fact]
    public async Task NonZeroExitFailsWithTheCodeAndStderr()
    {
        var outcome = await TempRunner.RunAsync(_runners.Open(), BuiltinWorkflows.Get("fail"));

        Assert.False(outcome.Succeeded);
        Assert.Equal("exit code 1: fail: this workflow always fails", outcome.Error);
    }

    [Fact]
    public async Task UnreachableIsATrap()
    {
        var module = TempRunner.Wat("""(module (func (export "_start") unreachable))""");

        var outcome = await TempRunner.RunAsync(_runners.Open(), module);

        Assert.False(outcome.Succeeded);
        Assert.Equal("trap: unreachable", outcome.Error);
    }

    [Fact]
    public async Task OutOfBoundsAccessIsATrap()
    {
        var module = TempRunner.Wat("""(module (memory 1) (func (export "_start") (drop (i32.load (i32.const 70000)))))""");

        var outcome = await TempRunner.RunAsync(_runners.Open(), module);

        Assert.Equal("trap: out of bounds memory access", outcome.Error);
    }

    [Fact]
    public async Task ProcExitZeroIsSuccessWhenTheOutputIsJson()
    {
        var module = TempRunner.Wat("""
            (module
              (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
              (memory (export "memory") 1)
              (data (i32.const 16) "[42]")
              (func (export "_start")
                (i32.store (i32.const 0) (i32.const 16))
                (i32.store (i32.const 4) (i32.const 4))
                (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
                (call $exit (i32.const 0))))
            """);

        var outcome = await TempRunner.RunAsync(_runners.Open(), module);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal("[42]", outcome.Result);
    }

    [Fact]
    public async Task SpinIsStoppedByItsTimeout()
    {
        var runner = _runners.Open();
        var watch = Stopwatch.StartNew();

        var outcome = await TempRunner.RunAsync(runner, BuiltinWorkflows.Get("spin"), timeout: TimeSpan.FromMilliseconds(300));

        Assert.False(outcome.Succeeded);
        Assert.Equal("timeout after 300ms", outcome.Error);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(300), $"stopped after {watch.Elapsed}");
        // Generous margin: the point is that it stops at all, not how fast.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"stopped after {watch.Elapsed}");
    }

    [Fact]
    public async Task CancellingStopsTheGuest()
    {
        var runner = _runners.Open();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        var outcome = await TempRunner.RunAsync(runner, BuiltinWorkflows.Get("spin"), timeout: TimeSpan.FromMinutes(5), token: cancel.Token);

        Assert.False(outcome.Succeeded);
        Assert.Equal("cancelled", outcome.Error);
    }

    [Fact]
    public async Task OutputOverTheCapFails()
    {
        var runner = _runners.Open(o => o.MaxOutputBytes = 1024);
        var payload = JsonSerializer.Serialize(new string('x', 4096));

        var outcome = await TempRunner.RunAsync(runner, BuiltinWorkflows.Get("echo"), payload);

        Assert.False(outcome.Succeeded);
        Assert.Equal("output over 1 KiB", outcome.Error);
    }

    [Fact]
    public async Task MemoryCapIsReported()
    {
        var runner = _runners.Open(o => o.MaxMemoryBytes = 4 * 1024 * 1024);

        var outcome = await TempRunner.RunAsync(runner, TempRunner.Wat(MemoryHogWat));

        Assert.False(outcome.Succeeded);
        Assert.StartsWith("memory limit (4 MiB) exceeded", outcome.Error);
    }

    [Fact]
    public async Task OutputThatIsNotJsonFails()
    {
        var outcome = await TempRunner.RunAsync(_runners.Open(), TempRunner.Wat(NotJsonWat));

        Assert.False(outcome.Succeeded);
        Assert.Equal("output is not JSON: hello, not json", outcome.Error);
    }

    [Fact]
    public async Task ModuleWithoutStartIsRejected()
    {
        var runner = _runners.Open();
        var module = TempRunner.Wat("""(module (func (export "main")))""");

        Assert.Equal("module has no _start export", runner.Validate(module));
        var outcome = await TempRunner.RunAsync(runner, module);
        Assert.Equal("module has no _start export", outcome.Error);
    }

    [Fact]
    public void ValidateAcceptsBuiltinsAndRejectsGarbage()
    {
        var runner = _runners.Open();

        Assert.All(BuiltinWorkflows.All, w => Assert.Null(runner.Validate(w.Module)));
        Assert.StartsWith("not a valid WebAssembly module", runner.Validate("not wasm"u8));
    }

    [Fact]
    public async Task MissingModuleIsAFailedAttempt()
    {
        var runner = _runners.Open();
        var run = TempRunner.NewRun(BuiltinWorkflows.Get("echo"));

        var outcome = await runner.RunAsync(run, () => null, CancellationToken.None);

        Assert.Equal($"workflow module {run.ModuleSha256} is not available on this node", outcome.Error);
    }

    [Fact]
    public async Task ModuleBytesMustMatchTheirHash()
    {
        var runner = _runners.Open();
        var run = TempRunner.NewRun(BuiltinWorkflows.Get("echo"));

        var outcome = await runner.RunAsync(run, () => BuiltinWorkflows.Get("fail"), CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Contains("is unusable", outcome.Error);
    }

    [Fact]
    public async Task ConcurrentRunsEachGetTheirOwnInput()
    {
        var runner = _runners.Open();
        var echo = BuiltinWorkflows.Get("echo");
        var loads = 0;

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            runner.RunAsync(TempRunner.NewRun(echo, $$"""{"n": {{i}}}"""), () => { Interlocked.Increment(ref loads); return echo; }, CancellationToken.None)));

        for (var i = 0; i < outcomes.Length; i++)
        {
            Assert.True(outcomes[i].Succeeded, outcomes[i].Error);
            using var result = JsonDocument.Parse(outcomes[i].Result!);
            Assert.Equal(i, result.RootElement.GetProperty("payload").GetProperty("n").GetInt32());
        }

        Assert.Equal(1, loads);
    }

    [Fact]
    public void FormatsDurationsAndSizes()
    {
        Assert.Equal("5s", WasmRunner.FormatDuration(TimeSpan.FromSeconds(5)));
        Assert.Equal("250ms", WasmRunner.FormatDuration(TimeSpan.FromMilliseconds(250)));
        Assert.Equal("1 MiB", WasmRunner.FormatBytes(1024 * 1024));
        Assert.Equal("64 MiB", WasmRunner.FormatBytes(64L * 1024 * 1024));
        Assert.Equal("1000 bytes", WasmRunner.FormatBytes(1000));
    }
}
