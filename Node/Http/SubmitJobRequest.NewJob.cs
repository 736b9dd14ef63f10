using Flotilla.Node.Store;

namespace Flotilla.Node.Http;

internal sealed partial record SubmitJobRequest
{
    /// <summary>The job to propose, or null with <paramref name="errors"/> filled.</summary>
    public NewJob? Validate(string jobId, long now, string? traceParent, string prefix, Dictionary<string, string[]> errors) =>
        Check(now, prefix, errors) is { } runAt
            ? new NewJob(
                jobId, Workflow!, PayloadJson(), Queue ?? DefaultQueue, Priority ?? 0, runAt, MaxAttempts ?? DefaultMaxAttempts,
                IdempotencyKey, traceParent, TimeoutMs)
            : null;
}
