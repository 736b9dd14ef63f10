using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;
using Wasmtime;
using Module = Wasmtime.Module;

namespace Flotilla.Node.Workflows;

/// <summary>
/// Runs workflow modules, one sandboxed attempt at a time per call (many calls may run at
/// once). The engine (with its instance pool), linker and compiled modules are shared; every
/// attempt gets a new store whose data is its <see cref="RunContext"/>: memory cap, deadline,
/// stdio in memory, and the state of any <see cref="IHostModule"/>. Guest faults come back as
/// failed outcomes.
/// </summary>
internal sealed partial class WasmRunner : IDisposable
{
    /// <summary>How often the shared epoch advances: the granularity of timeouts and cancellation.</summary>
    public static readonly TimeSpan EpochTick = TimeSpan.FromMilliseconds(10);

    private readonly WorkflowOptions _options;
    private readonly ILogger<WasmRunner> _logger;
    private readonly SandboxLimits _limits;
    private readonly Engine _engine;
    private readonly Linker _linker;
    private readonly ModuleCache _cache;
    private readonly IHostModule[] _hostModules;
    private readonly SemaphoreSlim _slots;
    private readonly Thread _epochTicker;
    private readonly ManualResetEventSlim _disposed = new();

    public WasmRunner(IOptions<WorkflowOptions> options, ILogger<WasmRunner> logger, IEnumerable<IHostModule>? hostModules = null)
    {
        _options = options.Value;
        _logger = logger;
        _limits = SandboxLimits.For(_options.MaxMemoryBytes);
        var runs = Math.Max(1, _options.MaxConcurrentRuns);
        using var pool = PoolFor(_limits, runs);
        using var config = new Config()
            .WithEpochInterruption(true)
            .WithCompilerStrategy(CompilerStrategy.Cranelift)
            .WithOptimizationLevel(OptimizationLevel.Speed)
            .WithPoolingAllocationStrategy(pool);
        _engine = new Engine(config);
        _linker = new Linker(_engine);
        _linker.DefineWasi();
        _linker.AllowShadowing = true;
        WasiShims.Define(_linker);
        _linker.AllowShadowing = false;
        // Without shadowing, a host module that defines a name twice (or a WASI name) fails here.
        _hostModules = hostModules?.ToArray() ?? [];
        foreach (var hostModule in _hostModules)
        {
            hostModule.Define(_linker);
        }

        _cache = new ModuleCache(_engine, ComputeEngineKey(), _options.CacheDirectory, logger);
        // The pool has a slot for this many stores; a run beyond it waits here rather than
        // failing to instantiate.
        _slots = new SemaphoreSlim(runs, runs);
        // A dedicated thread, not a pool timer: when every pool thread is busy the ticks (and
        // so every timeout) would stall exactly when a node is overloaded.
        _epochTicker = new Thread(TickEpochs) { IsBackground = true, Name = "wasm-epoch" };
        _epochTicker.Start();
    }

    /// <summary>The compiled-module cache (exposed for tests and diagnostics).</summary>
    public ModuleCache Cache => _cache;

    /// <summary>
    /// Runs one attempt on a thread-pool thread. <paramref name="loadModule"/> is called only
    /// when the module is in neither cache. Cancelling <paramref name="token"/> stops the guest
    /// within one epoch tick (at once when it sleeps in a host call) and yields the outcome
    /// "cancelled"; so does the deadline, with "timeout after …".
    /// </summary>
    public async Task<WorkflowOutcome> RunAsync(WorkflowRun run, Func<byte[]?> loadModule, CancellationToken token)
    {
        try
        {
            await _slots.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return WorkflowOutcome.Failure("cancelled");
        }

        try
        {
            // A pool thread, not a new one: Wasmtime's per-thread setup made a fresh thread cost
            // ~0.5 ms a run here. A guest blocks its thread until it ends, so the caller must keep
            // its concurrent runs below the pool's minimum threads or Raft and HTTP work would wait.
            return await Task.Run(() => Run(run, loadModule, token), CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>Null when <paramref name="module"/> compiles and exports <c>_start</c>; else why not.</summary>
    public string? Validate(ReadOnlySpan<byte> module)
    {
        try
        {
            using var compiled = Module.FromBytes(_engine, "validate", module);
            return ExportsStart(compiled) ? null : "module has no _start export";
        }
        catch (WasmtimeException e)
        {
            return $"not a valid WebAssembly module: {ModuleCache.CompileError(e.Message)}";
        }
    }

    public void Dispose()
    {
        _disposed.Set();
        _epochTicker.Join();
        _disposed.Dispose();
        _slots.Dispose();
        _cache.Dispose();
        _linker.Dispose();
        _engine.Dispose();
    }

    private void TickEpochs()
    {
        while (!_disposed.Wait(EpochTick))
        {
            _engine.IncrementEpoch();
        }
    }

    private WorkflowOutcome Run(WorkflowRun run, Func<byte[]?> loadModule, CancellationToken token)
    {
        var started = Stopwatch.GetTimestamp();
        var outcome = Execute(run, loadModule, token);
        LogRunFinished(_logger, run.Workflow, run.JobId, run.Attempt, Stopwatch.GetElapsedTime(started).TotalMilliseconds, outcome.Error ?? "ok");
        return outcome;
    }

    private WorkflowOutcome Execute(WorkflowRun run, Func<byte[]?> loadModule, CancellationToken token)
    {
        if (token.IsCancellationRequested)
        {
            return WorkflowOutcome.Failure("cancelled");
        }

        if (run.Timeout <= TimeSpan.Zero)
        {
            return WorkflowOutcome.Failure($"no positive timeout for the run ({run.Timeout})");
        }

        Module? module;
        try
        {
            module = _cache.GetOrLoad(run.ModuleSha256, loadModule);
        }
        catch (InvalidDataException e)
        {
            return WorkflowOutcome.Failure($"workflow module {run.ModuleSha256} is unusable: {e.Message}");
        }

        if (module is null)
        {
            return WorkflowOutcome.Failure($"workflow module {run.ModuleSha256} is not available on this node");
        }

        if (!ExportsStart(module))
        {
            return WorkflowOutcome.Failure("module has no _start export");
        }

        return RunInStore(new RunContext(run, run.Timeout, _options.MaxOutputBytes, token), module);
    }

    private WorkflowOutcome RunInStore(RunContext context, Module module)
    {
        var run = context.Run;
        var watch = context.Watch;

        // The context is the store's data: the WASI shims and any other host function reach
        // this run's stdin, stdout and deadline through it.
        using var store = new Wasmtime.Store(_engine, context);
        _limits.Apply(store);
        // Stdin, stdout and stderr are the shims' (WasiShims); WASI itself keeps an empty stdin
        // and discarding outputs behind them.
        store.SetWasiConfiguration(new WasiConfiguration()
            .WithArg(run.Workflow)
            .WithEnvironmentVariables(
            [
                ("FLOTILLA_JOB_ID", run.JobId),
                ("FLOTILLA_ATTEMPT", run.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ("FLOTILLA_NODE_ID", run.NodeId),
                ("FLOTILLA_WORKFLOW", run.Workflow),
            ]));

        // Deadline one tick out, re-armed by the callback: the callback (on the guest's own
        // thread) is the one safe place to look at the clock and the token and stop the guest.
        store.SetEpochDeadline(1);
        store.SetEpochDeadlineCallback(_ => watch.OnEpochDeadline());

        try
        {
            foreach (var hostModule in _hostModules)
            {
                hostModule.Prepare(context, module);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // E.g. a journal that cannot be read: this attempt fails, the retry policy decides.
            return WorkflowOutcome.Failure($"run could not be prepared: {ModuleCache.FirstLine(e.Message)}");
        }

        Instance? instance = null;
        int exitCode;
        string? fault = null;
        try
        {
            instance = _linker.Instantiate(store, module);
            instance.GetAction("_start")!.Invoke();
            exitCode = 0;
        }
        catch (WasmtimeException e) when (e.ExitCode is { } code)
        {
            exitCode = code;
        }
        catch (TrapException e)
        {
            exitCode = -1;
            fault = e.Type == TrapCode.Interrupt ? null : $"trap: {Describe(e)}";
            watch.NoteInterrupt(e.Type == TrapCode.Interrupt);
        }
        catch (WasmtimeException e)
        {
            exitCode = -1;
            fault = instance is null
                ? $"module cannot be instantiated: {ModuleCache.FirstLine(e.Message)}"
                : ModuleCache.FirstLine(e.Message);
        }

        if (watch.Stopped is { } stop)
        {
            return WorkflowOutcome.Failure(stop == StopReason.Cancelled ? "cancelled" : $"timeout after {FormatDuration(context.Timeout)}");
        }

        if (context.Stdout.Overflowed)
        {
            return WorkflowOutcome.Failure($"output over {FormatBytes(_options.MaxOutputBytes)}");
        }

        if (exitCode != 0 || fault is not null)
        {
            if (fault is null)
            {
                var tail = context.Stderr.Tail();
                fault = tail.Length == 0 ? $"exit code {exitCode}" : $"exit code {exitCode}: {tail}";
            }

            return WorkflowOutcome.Failure(NearMemoryCap(instance) ? $"memory limit ({FormatBytes(_options.MaxMemoryBytes)}) exceeded ({fault})" : fault);
        }

        return context.Stdout.ToJson(out var result, out var error) ? WorkflowOutcome.Success(result) : WorkflowOutcome.Failure(error);
    }

    // A refused memory.grow is invisible to the host (it returns -1 to the guest, whose malloc
    // then fails and it aborts or exits). So a failed run is blamed on the cap when its memory
    // ended within 1/16 of the cap (at least 1 MiB) below its limit; the original reason is kept too.
    private bool NearMemoryCap(Instance? instance)
    {
        if (instance?.GetMemory("memory") is not { } memory)
        {
            return false;
        }

        var headroom = Math.Max(1024L * 1024, _options.MaxMemoryBytes / 16);
        return memory.GetLength() + headroom > _limits.LinearMemoryBytes;
    }

    private static bool ExportsStart(Module module) =>
        module.Exports.OfType<FunctionExport>().Any(e => e.Name == "_start" && e.Parameters.Count == 0 && e.Results.Count == 0);

    private static string Describe(TrapException trap) => trap.Type switch
    {
        TrapCode.Unreachable => "unreachable",
        TrapCode.MemoryOutOfBounds => "out of bounds memory access",
        TrapCode.StackOverflow => "stack overflow",
        TrapCode.IntegerDivisionByZero => "integer divide by zero",
        TrapCode.IntegerOverflow => "integer overflow",
        TrapCode.BadConversionToInteger => "invalid conversion to integer",
        TrapCode.IndirectCallToNull => "indirect call to null",
        TrapCode.BadSignature => "indirect call type mismatch",
        TrapCode.TableOutOfBounds => "out of bounds table access",
        TrapCode.HeapMisaligned => "misaligned memory access",
        TrapCode.OutOfFuel => "out of fuel",
        _ => ModuleCache.FirstLine(trap.Message),
    };

    internal static string FormatDuration(TimeSpan duration)
    {
        var ms = (long)Math.Round(duration.TotalMilliseconds);
        return ms % 1000 == 0 ? $"{ms / 1000}s" : $"{ms}ms";
    }

    internal static string FormatBytes(long bytes) => bytes switch
    {
        >= 1024 * 1024 when bytes % (1024 * 1024) == 0 => $"{bytes / (1024 * 1024)} MiB",
        >= 1024 when bytes % 1024 == 0 => $"{bytes / 1024} KiB",
        _ => $"{bytes} bytes",
    };

    // The cache file name must change whenever compiled code could differ: another Wasmtime
    // build, other engine settings, another CPU architecture.
    private static string ComputeEngineKey()
    {
        var wasmtime = typeof(Engine).Assembly;
        var version = wasmtime.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? wasmtime.GetName().Version?.ToString()
            ?? "unknown";
        var settings = $"wasmtime={version};arch={RuntimeInformation.ProcessArchitecture};epoch=1;fuel=0;cranelift;opt=speed;alloc=pooling";
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(settings)))[..16];
    }

    [LoggerMessage(EventId = 1611, Level = LogLevel.Debug, Message = "Workflow {Workflow} job {JobId} attempt {Attempt} ran in {Milliseconds:F1} ms: {Outcome}")]
    private static partial void LogRunFinished(ILogger logger, string workflow, string jobId, int attempt, double milliseconds, string outcome);
}
