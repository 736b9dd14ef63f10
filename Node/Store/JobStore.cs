namespace Flotilla.Node.Store;

/// <summary>
/// The node's SQLite database: the only writer is <see cref="Apply"/>, called by the Raft
/// state machine with committed entries in log order. Reads open their own connections.
/// </summary>
internal sealed class JobStore : IDisposable
{
    public JobStore(string databasePath) => throw new NotImplementedException();

    /// <summary>Index of the last log entry applied; stored in the same transaction as its changes.</summary>
    public long AppliedIndex => throw new NotImplementedException();

    /// <summary>
    /// Applies one committed batch in one transaction, together with <paramref name="index"/>.
    /// Returns null, changing nothing, when <paramref name="index"/> is not above <see cref="AppliedIndex"/>.
    /// Never throws for bad command content: such a command yields <see cref="Rejected"/>.
    /// </summary>
    public IReadOnlyList<CommandResult>? Apply(long index, CommandBatch batch) => throw new NotImplementedException();

    /// <summary>Records that an entry with no commands (e.g. a membership change) was applied.</summary>
    public void MarkApplied(long index) => throw new NotImplementedException();

    public Job? GetJob(string jobId) => throw new NotImplementedException();

    public IReadOnlyList<Job> ListJobs(JobQuery query) => throw new NotImplementedException();

    public IReadOnlyDictionary<JobStatus, long> CountByStatus() => throw new NotImplementedException();

    /// <summary>Earliest time (Unix ms) at which a pending job becomes eligible or a lease expires; null if none.</summary>
    public long? NextDueAt() => throw new NotImplementedException();

    /// <summary>Writes a consistent copy of the database to <paramref name="path"/> (VACUUM INTO).</summary>
    public void WriteSnapshot(string path) => throw new NotImplementedException();

    /// <summary>Replaces the whole state with the snapshot at <paramref name="path"/> if it is newer than ours.</summary>
    public bool RestoreSnapshot(string path) => throw new NotImplementedException();

    /// <summary>SHA-256 over every replicated table in a fixed order: equal on nodes that applied the same log.</summary>
    public string Checksum() => throw new NotImplementedException();

    public void Dispose() => throw new NotImplementedException();
}

/// <summary>A page of jobs: filters, and keyset paging by job id.</summary>
internal sealed record JobQuery(JobStatus? Status = null, string? Queue = null, int Limit = 100, string? After = null);
