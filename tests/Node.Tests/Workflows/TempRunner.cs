using System.Security.Cryptography;
using Flotilla.Node.Workflows;
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

    public WasmRunner Open(Action<WorkflowOptions>? configure = null)
    {
        var options = new WorkflowOptions { CacheDirectory = CacheDirectory };
        configure?.Invoke(options);
        var runner = new WasmRunner(Options.Create(options), NullLogger<WasmRunner>.Instance);
        _runners.Add(runner);
        return runner;
    }

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
