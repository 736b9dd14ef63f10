using System.Text;

namespace Flotilla.Node.Store;

// Local reads. Each opens a pooled read-only connection: with WAL it sees the last committed
// batch and never waits for (or blocks) apply.
internal sealed partial class JobStore
{
    public const int MaxPageSize = 1000;

    public Job? GetJob(string jobId)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = Schema.JobGetById;
        return JobRow.ReadSingle(command.With("$job_id", jobId));
    }

    /// <summary>A page of jobs ordered by id; pass the last id of a page as <see cref="JobQuery.After"/> for the next.</summary>
    public IReadOnlyList<Job> ListJobs(JobQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var connection = OpenReader();
        using var command = connection.CreateCommand();

        // Only the filters in use go into the WHERE clause, and the status as a literal: SQLite
        // uses a partial index only when the query visibly implies its WHERE clause.
        var sql = new StringBuilder(Schema.JobListSelect);
        var conditions = new List<string>();
        if (query.Status is { } status)
        {
            // Unfinished and unsuccessful jobs are few: walk their partial index and sort.
            // Completed ones are most rows: the primary key order finds them densely.
            sql.Append(status switch
            {
                JobStatus.Pending => " INDEXED BY jobs_pending_run_at",
                JobStatus.Running => " INDEXED BY jobs_running_lease",
                JobStatus.Failed or JobStatus.Cancelled => " INDEXED BY jobs_unsuccessful",
                _ => string.Empty,
            });
            conditions.Add($"status = '{JobRow.ToText(status)}'");
        }

        if (query.Queue is not null)
        {
            conditions.Add("queue = $queue");
            command.With("$queue", query.Queue);
        }

        if (query.After is not null)
        {
            conditions.Add("job_id > $after");
            command.With("$after", query.After);
        }

        if (conditions.Count > 0)
        {
            sql.Append(" WHERE ").AppendJoin(" AND ", conditions);
        }

        sql.Append(" ORDER BY job_id LIMIT $limit;");
        command.CommandText = sql.ToString();
        command.With("$limit", Math.Clamp(query.Limit, 1, MaxPageSize));
        return JobRow.ReadAll(command);
    }

    /// <summary>Pending and running jobs, counted from the small partial indexes (cheap at any history size).</summary>
    public (long Pending, long Running) CountUnfinished()
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = Schema.JobsCountUnfinished;
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Jobs per status; every status is present, with 0 when there are none.</summary>
    public IReadOnlyDictionary<JobStatus, long> CountByStatus()
    {
        var counts = Enum.GetValues<JobStatus>().ToDictionary(status => status, _ => 0L);
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = Schema.JobsCountByStatus;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            counts[JobRow.ParseStatus(reader.GetString(0))] = reader.GetInt64(1);
        }

        return counts;
    }

    /// <summary>Earliest time (Unix ms) at which a pending job becomes eligible or a lease expires; null if none.</summary>
    public long? NextDueAt()
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = Schema.NextDueAt;
        return command.ExecuteScalar() is long due ? due : null;
    }

    /// <summary>Earliest run_at of a pending job (eligible to claim once it has passed); null if none.</summary>
    public long? NextPendingRunAt() => ScalarLong(Schema.NextPendingRunAt);

    /// <summary>Earliest lease expiry of a running job (to rescue once it has passed); null if none.</summary>
    public long? NextLeaseExpiry() => ScalarLong(Schema.NextLeaseExpiry);

    /// <summary>The longest lease any worker asked for in its offer (0 when none offered).</summary>
    public long LongestOfferedLeaseMs() => ScalarLong(Schema.LongestOfferedLease) ?? 0;

    private long? ScalarLong(string sql)
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar() is long value ? value : null;
    }

    /// <summary>Registered workflows by name.</summary>
    public IReadOnlyList<WorkflowInfo> ListWorkflows()
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = Schema.WorkflowList;
        using var reader = command.ExecuteReader();
        var workflows = new List<WorkflowInfo>();
        while (reader.Read())
        {
            workflows.Add(new WorkflowInfo(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetInt32(3)));
        }

        return workflows;
    }

    /// <summary>A workflow with its module bytes, or null if no workflow has that name.</summary>
    public WorkflowModule? GetWorkflowModule(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = Schema.WorkflowGetModule;
        using var reader = command.With("$name", name).ExecuteReader();
        return reader.Read()
            ? new WorkflowModule(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), (byte[])reader.GetValue(3), reader.IsDBNull(4) ? null : reader.GetInt32(4))
            : null;
    }

    /// <summary>The module with this SHA-256 (lowercase hex), or null; lets a module cache key by content.</summary>
    public byte[]? GetModule(string sha256)
    {
        ArgumentNullException.ThrowIfNull(sha256);
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = Schema.ModuleGet;
        return command.With("$sha256", sha256.ToLowerInvariant()).ExecuteScalar() as byte[];
    }

    /// <summary>Jobs running under <paramref name="node"/>'s name (assigned to it, queued or started there).</summary>
    public IReadOnlyList<Job> RunningOn(string node)
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = Schema.JobsRunningByNode;
        return JobRow.ReadAll(command.With("$node", node));
    }

    /// <summary>Unused credit of the workers alive at <paramref name="now"/>: what apply could assign right now.</summary>
    public int FreeCredit(long now)
    {
        using var connection = OpenReader();
        using var transaction = connection.BeginTransaction(deferred: true);
        var capacity = new Dictionary<string, int>(StringComparer.Ordinal);
        using (var live = connection.CreateCommand())
        {
            live.Transaction = transaction;
            live.CommandText = Schema.WorkersLive;
            using var reader = live.With("$now", now).ExecuteReader();
            while (reader.Read())
            {
                capacity[reader.GetString(0)] = reader.GetInt32(1);
            }
        }

        using (var held = connection.CreateCommand())
        {
            held.Transaction = transaction;
            held.CommandText = Schema.JobsHeldByNode;
            using var reader = held.ExecuteReader();
            while (reader.Read())
            {
                if (capacity.TryGetValue(reader.GetString(0), out var offered))
                {
                    capacity[reader.GetString(0)] = offered - reader.GetInt32(1);
                }
            }
        }

        return capacity.Values.Sum(free => Math.Max(0, free));
    }

    /// <summary>
    /// How many stored modules neither a workflow names nor an unfinished job is pinned to (the
    /// leader's ModuleCollector proposes <see cref="PurgeModules"/> when there are any). Reads
    /// the unfinished jobs only when some module is not current, which is rare.
    /// </summary>
    public long CountUnusedModules()
    {
        if (ScalarLong(Schema.ModulesCountRetired) is not > 0)
        {
            return 0;
        }

        return ScalarLong(Schema.ModulesCountUnreferenced) ?? 0;
    }

    /// <summary>The oldest updated_at of a finished job; null if none (retention looks here first).</summary>
    public long? OldestFinishedAt() => ScalarLong(Schema.OldestFinishedAt);

    /// <summary>A workflow's module address and settings without its bytes (the runner caches modules by SHA-256).</summary>
    public WorkflowInfo? GetWorkflow(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = Schema.WorkflowGet;
        using var reader = command.With("$name", name).ExecuteReader();
        return reader.Read()
            ? new WorkflowInfo(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetInt32(3))
            : null;
    }
}
