namespace Flotilla.Client;

/// <summary>How a job is to run, beyond its workflow and payload. Every property is optional.</summary>
public sealed record EnqueueOptions
{
    /// <summary>The queue (<see cref="JobRules.DefaultQueue"/> when null).</summary>
    public string? Queue { get; init; }

    /// <summary>-1000 to 1000; higher runs first. 0 when null.</summary>
    public int? Priority { get; init; }

    /// <summary>Not before this time (at most a year ahead). Give this or <see cref="Delay"/>.</summary>
    public DateTimeOffset? RunAt { get; init; }

    /// <summary>Not before this long from now (at most a year).</summary>
    public TimeSpan? Delay { get; init; }

    /// <summary>Attempts before the job fails for good, 1 to 100 (<see cref="JobRules.DefaultMaxAttempts"/> when null).</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>
    /// A key of your own (1-256 characters): submitting a job with a key that exists returns the
    /// existing job instead of a new one, on any node, however often. With a key, the client also
    /// re-sends a submission whose outcome it could not learn (a lost answer, a 502 or 504).
    /// </summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>The run timeout of each attempt (1 ms to a day); else the workflow's, else the node's default.</summary>
    public TimeSpan? Timeout { get; init; }
}
