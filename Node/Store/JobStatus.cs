namespace Flotilla.Node.Store;

/// <summary>
/// The life of a job. Each state names who moves a job out of it; the jobs table enforces
/// the set with a CHECK constraint.
/// </summary>
internal enum JobStatus
{
    /// <summary>Waiting for <c>run_at</c>; a worker's ClaimJobs moves it to Running, CancelJob to Cancelled.</summary>
    Pending,

    /// <summary>Claimed by one node with a lease; CompleteJob, FailJob, CancelJob or RescueExpiredLeases move it on.</summary>
    Running,

    /// <summary>Final: the workflow succeeded.</summary>
    Completed,

    /// <summary>Final: the last allowed attempt failed (or its lease ran out); the last error is kept.</summary>
    Failed,

    /// <summary>Final: cancelled before it finished.</summary>
    Cancelled,
}
