using System.Security.Cryptography;
using Flotilla.Node.Workflows;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Tests.Workflows;

/// <summary>Runners over a private cache folder, deleted afterwards; safe for parallel tests.</summary>
internal sealed class TempRunner : IDisposable
{
    private readonly List<WasmRunner> _runners = [];

    static TempRunner()
    {
        // A run blocks its pool thread until the guest ends, as JobWorker knows (it raises the
        // minimum threads to its slots). Tests run many guests at once on 2 cores: without the
        // same headroom a cancel timer's callback waits behind sleeping guests.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 64), io);
    }

    public string CacheDirectory { get; } = Path.Combine(Path.GetTempPath(), "flotilla-wf-tests", Guid.NewGuid().ToString("N"));

    public WasmRunner Open(Action<WorkflowOptions>? configure = null, params IHostModule[] hostModules) =>
        Open(NullLogger<WasmRunner>.Instance, configure, hostModules);

    public WasmRunner Open(ILogger<WasmRunner> logger, Action<WorkflowOptions>? configure = null, params IHostModule[] hostModules)
    {
        var options = new WorkflowOptions { CacheDirectory = CacheDirectory };
        configure?.Invoke(options);
        var runner = new WasmRunner(Options.Create(options), logger, hostModules);
        _runners.Add(runner);
        return runner;
    }

    /// <summary>WAT function <c>$itoa (n, at) -> end</c>: writes n in decimal at <c>at</c>.</summary>
    public const string WatItoa = """
        (func $itoa (param $n i32) (param $at i32) (result i32)
          (local $len i32) (local $tmp i32)
          (local.set $tmp (local.get $n))
          (local.set $len (i32.const 1))
          (block $done (loop $count
            (br_if $done (i32.lt_u (local.get $tmp) (i32.const 10)))
            (local.set $tmp (i32.div_u (local.get $tmp) (i32.const 10)))
            (local.set $len (i32.add (local.get $len) (i32.const 1)))
            (br $count)))
          (local.set $tmp (i32.add (local.get $at) (local.get $len)))
          (loop $digit
            (local.set $tmp (i32.sub (local.get $tmp) (i32.const 1)))
            (i32.store8 (local.get $tmp) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
            (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
            (br_if $digit (i32.ne (local.get $tmp) (local.get $at))))
          (i32.add (local.get $at) (local.get $len)))
        """;

    public static string Sha256(byte[] module) => Convert.ToHexStringLower(SHA256.HashData(module));

    public static byte[] Wat(string text) => Wasmtime.Module.ConvertText(text);

    public static WorkflowRun NewRun(byte[] module, string payload = "{}", TimeSpan? timeout = null, string workflow = "test", string jobId = "job-1") =>
        new(jobId, 1, workflow, Sha256(module), payload, timeout ?? TimeSpan.FromSeconds(10), "node-a");

    public static Task<WorkflowOutcome> RunAsync(WasmRunner runner, byte[] module, string payload = "{}", TimeSpan? timeout = null, CancellationToken token = default) =>
        runner.RunAsync(NewRun(module, payload, timeout), () => module, token).WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);

    public void Dispose()
    {
        foreach (var runner in _runners)
        {
            runner.Dispose();
        }

        if (Directory.Exists(CacheDirectory))
        {
            Directory.Delete(CacheDirectory, recursive: true);
        }
    }
}
