namespace Flotilla.Node.Workflows;

/// <summary>One attempt of a job whose workflow is a WebAssembly module.</summary>
/// <param name="Payload">The job's payload as JSON text; the guest reads it from stdin.</param>
/// <param name="Timeout">Wall-clock budget of this attempt, enforced by epoch interruption.</param>
internal sealed record WorkflowRun(
    string JobId,
    int Attempt,
    string Workflow,
    string ModuleSha256,
    string Payload,
    TimeSpan Timeout,
    string NodeId)
{
    /// <summary>
    /// The job's durable journal, used only if the module imports <c>flotilla</c> (see
    /// <see cref="Durable.DurableHostModule"/>): it answers replayed calls and collects live ones.
    /// </summary>
    public Durable.RunJournal? Journal { get; init; }
}

/// <summary>How an attempt ended: a JSON result, or a readable reason it failed.</summary>
/// <param name="Result">What the guest wrote to stdout (JSON text) when it succeeded.</param>
/// <param name="Error">Why the attempt failed, e.g. "exit code 1: ..." or "timeout after 5s".</param>
internal sealed record WorkflowOutcome(bool Succeeded, string? Result, string? Error)
{
    public static WorkflowOutcome Success(string result) => new(true, result, null);

    public static WorkflowOutcome Failure(string error) => new(false, null, error);
}
