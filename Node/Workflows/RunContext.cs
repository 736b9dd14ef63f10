using System.Text;
using Wasmtime;

namespace Flotilla.Node.Workflows;

/// <summary>
/// Everything one attempt's host functions need: its input, its captured output, its clock
/// and deadline. It is the store's data, so a host function defined once on the shared linker
/// finds the state of the run that called it with <see cref="Of(Caller)"/>. Host modules
/// (<see cref="IHostModule"/>, e.g. the durable-workflow journal) keep their per-run state
/// here too, and may replace where the guest's time and randomness come from.
/// </summary>
internal sealed class RunContext
{
    private readonly ReadOnlyMemory<byte> _stdin;
    private int _stdinRead;
    private Dictionary<Type, object>? _state;

    public RunContext(WorkflowRun run, TimeSpan timeout, int maxOutputBytes, CancellationToken token)
    {
        Run = run;
        Timeout = timeout;
        _stdin = Encoding.UTF8.GetBytes(run.Payload);
        Stdout = new CappedOutput(maxOutputBytes);
        Watch = new RunWatch(timeout, token);
    }

    public WorkflowRun Run { get; }

    public TimeSpan Timeout { get; }

    public CappedOutput Stdout { get; }

    public OutputTail Stderr { get; } = new();

    public RunWatch Watch { get; }

    /// <summary>Where the guest's time and random bytes come from; live unless a host module swaps it.</summary>
    public IGuestInputs Inputs { get; set; } = LiveInputs.Instance;

    /// <summary>Bytes of the payload the guest has not read yet.</summary>
    public int StdinRemaining => _stdin.Length - _stdinRead;

    /// <summary>The run whose guest made this host call.</summary>
    public static RunContext Of(Caller caller) =>
        caller.GetData() as RunContext ?? throw new InvalidOperationException("the store carries no run context");

    /// <summary>Attaches a host module's per-run state (one value per type).</summary>
    public void Set<T>(T state)
        where T : class => (_state ??= [])[typeof(T)] = state;

    /// <summary>The state of type <typeparamref name="T"/> attached to this run, if any.</summary>
    public T? Get<T>()
        where T : class => _state is not null && _state.TryGetValue(typeof(T), out var state) ? (T)state : null;

    /// <summary>Copies the next unread payload bytes into <paramref name="destination"/>; 0 at the end.</summary>
    public int ReadStdin(Span<byte> destination)
    {
        var count = Math.Min(destination.Length, StdinRemaining);
        _stdin.Span.Slice(_stdinRead, count).CopyTo(destination);
        _stdinRead += count;
        return count;
    }
}
