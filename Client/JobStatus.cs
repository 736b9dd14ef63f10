namespace Flotilla.Client;

/// <summary>Where a job is in its life; on the wire in snake_case (<c>"pending"</c>).</summary>
public enum JobStatus
{
    /// <summary>Waiting for its <c>run_at</c>, or for a free worker; a claim moves it to running, a cancel to cancelled.</summary>
    Pending,

    /// <summary>Claimed by one node under a lease; it completes, fails (and may go back to pending for a retry) or is cancelled.</summary>
    Running,

    /// <summary>Final: the workflow exited 0; its output is the job's <c>result</c>.</summary>
    Completed,

    /// <summary>Final: the last allowed attempt failed; <c>error</c> says why.</summary>
    Failed,

    /// <summary>Final: cancelled before it finished.</summary>
    Cancelled,
}
