// TEMPORARY stub until the wasm branch lands. Not committed.
namespace Flotilla.Node.Workflows;

internal sealed record WorkflowRun(string JobId, int Attempt, string Workflow, string ModuleSha256, string Payload, TimeSpan Timeout, string NodeId);

internal sealed record WorkflowOutcome(bool Succeeded, string? Result, string? Error);

internal sealed class WorkflowOptions
{
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(30);
    public string? CacheDirectory { get; set; }
}

internal sealed class WasmRunner : IDisposable
{
    public Task<WorkflowOutcome> RunAsync(WorkflowRun run, Func<byte[]?> loadModule, CancellationToken token) =>
        Task.FromResult(new WorkflowOutcome(true, $"{{\"payload\":{run.Payload},\"node\":\"{run.NodeId}\"}}", null));

    public string? Validate(byte[] module) => null;

    public void Dispose() { }
}

internal static class BuiltinWorkflows
{
    public static IReadOnlyList<(string Name, byte[] Module, TimeSpan DefaultTimeout)> All { get; } =
        [("echo", [0, 97, 115, 109, 1, 0, 0, 0], TimeSpan.FromSeconds(30))];
}
