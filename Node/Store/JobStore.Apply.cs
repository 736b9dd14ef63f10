using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Flotilla.Node.Store;

// Deterministic apply. Everything here depends only on the database, the command and the
// batch's leader-stamped Now: no clock, no randomness, no culture-dependent formatting.
internal sealed partial class JobStore
{
    private const int SqliteConstraint = 19;
    private const int MaxIdLength = 256;
    private const string CommandSavepoint = "command";

    // The transaction of the batch being applied; set only inside Apply, under _writeLock.
    private SqliteTransaction? _transaction;

    /// <summary>
    /// Applies one committed batch in one transaction, together with <paramref name="index"/>.
    /// Returns null, changing nothing, when <paramref name="index"/> is not above <see cref="AppliedIndex"/>.
    /// Never throws for bad command content: such a command yields <see cref="Rejected"/>.
    /// </summary>
    /// <remarks>
    /// An I/O or other database failure throws and rolls the whole batch back (applied index
    /// included), so the caller may apply the same entry again.
    /// </remarks>
    public IReadOnlyList<CommandResult>? Apply(long index, CommandBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (index <= _appliedIndex)
            {
                return null;
            }

            // Commands may be null when a batch was deserialized from a malformed entry.
            var commands = batch.Commands ?? [];
            var results = new List<CommandResult>(commands.Count);
            using var transaction = _writer.BeginTransaction();
            _transaction = transaction;
            try
            {
                foreach (var command in commands)
                {
                    results.Add(ApplyOne(transaction, command, batch.Now));
                }

                using (var setIndex = Write(Schema.SetAppliedIndex))
                {
                    setIndex.With("$index", index).ExecuteNonQuery();
                }

                transaction.Commit();
            }
            finally
            {
                _transaction = null;
            }

            Volatile.Write(ref _appliedIndex, index);
            return results;
        }
    }

    // A savepoint per command: a rejected command leaves no trace, its neighbours still apply.
    private CommandResult ApplyOne(SqliteTransaction transaction, Command? command, long now)
    {
        transaction.Save(CommandSavepoint);
        CommandResult result;
        try
        {
            result = Execute(command, now);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteConstraint)
        {
            // Validation should catch bad content first; the table constraints are the backstop.
            result = new Rejected($"constraint violated: {e.Message}");
        }

        if (result is Rejected)
        {
            transaction.Rollback(CommandSavepoint);
        }

        transaction.Release(CommandSavepoint);
        return result;
    }

    private CommandResult Execute(Command? command, long now) => command switch
    {
        SubmitJobs c => Submit(c, now),
        ClaimJobs c => Claim(c, now),
        RenewLeases c => Renew(c, now),
        CompleteJob c => Complete(c, now),
        FailJob c => Fail(c, now),
        CancelJob c => Cancel(c, now),
        RescueExpiredLeases => Rescue(now),
        RegisterWorkflow c => Register(c, now),
        null => new Rejected("null command"),
        _ => new Rejected($"unknown command {command.GetType().Name}"),
    };

    private CommandResult Submit(SubmitJobs command, long now)
    {
        if (command.Jobs is null || command.Jobs.Count == 0)
        {
            return new Rejected("submit_jobs: no jobs");
        }

        var stored = new List<Job>(command.Jobs.Count);
        for (var i = 0; i < command.Jobs.Count; i++)
        {
            var job = command.Jobs[i];
            if (Invalid(job) is { } reason)
            {
                return new Rejected($"submit_jobs: job {i}: {reason}");
            }

            // A known key means the job was accepted before (a retried request): hand back
            // the stored job. This also covers a key repeated inside this command.
            if (job.IdempotencyKey is not null)
            {
                using var byKey = Write(Schema.JobGetByIdempotencyKey).With("$key", job.IdempotencyKey);
                if (JobRow.ReadSingle(byKey) is { } existing)
                {
                    stored.Add(existing);
                    continue;
                }
            }

            // The same id with the same content is the same proposal replayed (a write retried
            // after leadership moved mid-flight): it was accepted once, so hand it back.
            using (var byId = Write(Schema.JobGetById).With("$job_id", job.JobId))
            {
                if (JobRow.ReadSingle(byId) is { } existing)
                {
                    if (existing.Workflow == job.Workflow && existing.Payload == job.Payload && existing.Queue == job.Queue)
                    {
                        stored.Add(existing);
                        continue;
                    }

                    return new Rejected($"submit_jobs: job {i}: job id '{job.JobId}' already exists");
                }
            }

            using var insert = Write(Schema.JobInsert)
                .With("$job_id", job.JobId)
                .With("$queue", job.Queue)
                .With("$workflow", job.Workflow)
                .With("$payload", job.Payload)
                .With("$priority", job.Priority)
                .With("$run_at", job.RunAt)
                .With("$max_attempts", job.MaxAttempts)
                .With("$now", now)
                .With("$idempotency_key", job.IdempotencyKey)
                .With("$trace_parent", job.TraceParent)
                .With("$timeout_ms", job.TimeoutMs);
            stored.Add(JobRow.ReadSingle(insert)!);
        }

        return new JobsResult(stored);
    }

    private static string? Invalid(NewJob? job)
    {
        if (job is null)
        {
            return "missing";
        }

        if (string.IsNullOrWhiteSpace(job.JobId) || job.JobId.Length > MaxIdLength)
        {
            return $"job id must be 1..{MaxIdLength} characters and not blank";
        }

        if (string.IsNullOrWhiteSpace(job.Workflow))
        {
            return "workflow is required";
        }

        if (string.IsNullOrWhiteSpace(job.Queue))
        {
            return "queue is required";
        }

        if (job.MaxAttempts < 1)
        {
            return "max_attempts must be at least 1";
        }

        if (job.RunAt < 0)
        {
            return "run_at must not be negative";
        }

        if (job.TimeoutMs is <= 0)
        {
            return "timeout_ms must be positive";
        }

        if (job.IdempotencyKey is { Length: 0 } || job.IdempotencyKey?.Length > MaxIdLength)
        {
            return $"idempotency_key must be 1..{MaxIdLength} characters";
        }

        return IsJson(job.Payload) ? null : "payload is not valid JSON";
    }

    private static bool IsJson(string? text)
    {
        if (text is null)
        {
            return false;
        }

        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private CommandResult Claim(ClaimJobs command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.Node))
        {
            return new Rejected("claim_jobs: node is required");
        }

        if (command.Max < 0 || command.LeaseMs <= 0)
        {
            return new Rejected("claim_jobs: max must not be negative and lease_ms must be positive");
        }

        if (command.Max == 0 || command.Queues is { Count: 0 })
        {
            return new JobsResult([]);
        }

        using var claim = Write(Schema.JobClaim)
            .With("$node", command.Node)
            .With("$now", now)
            .With("$lease_ms", command.LeaseMs)
            .With("$max", command.Max)
            .With("$queues", command.Queues is null ? null : JsonArray(command.Queues));
        var won = JobRow.ReadAll(claim);
        won.Sort(ClaimOrder.Instance);
        return new JobsResult(won);
    }

    private static string JsonArray(IReadOnlyList<string> values)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var value in values)
            {
                json.WriteStringValue(value);
            }

            json.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private CommandResult Renew(RenewLeases command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.Node) || command.Jobs is null || command.LeaseMs <= 0)
        {
            return new Rejected("renew_leases: node, jobs and a positive lease_ms are required");
        }

        var renewed = 0;
        foreach (var job in command.Jobs)
        {
            if (job?.JobId is null)
            {
                continue;
            }

            using var renew = Write(Schema.JobRenewLease)
                .With("$job_id", job.JobId)
                .With("$node", command.Node)
                .With("$attempt", job.Attempt)
                .With("$now", now)
                .With("$lease_ms", command.LeaseMs);
            renewed += renew.ExecuteNonQuery();
        }

        return new CountResult(renewed);
    }

    private CommandResult Complete(CompleteJob command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.JobId) || string.IsNullOrWhiteSpace(command.Node))
        {
            return new Rejected("complete_job: job id and node are required");
        }

        using var complete = Write(Schema.JobComplete)
            .With("$job_id", command.JobId)
            .With("$node", command.Node)
            .With("$attempt", command.Attempt)
            .With("$result", command.Result)
            .With("$now", now);
        return JobRow.ReadSingle(complete) is { } completed
            ? new JobChange(true, completed)
            : new JobChange(false, CurrentJob(command.JobId));
    }

    private CommandResult Fail(FailJob command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.JobId) || string.IsNullOrWhiteSpace(command.Node) || command.Error is null)
        {
            return new Rejected("fail_job: job id, node and error are required");
        }

        var job = CurrentJob(command.JobId);
        var holdsClaim = job is { Status: JobStatus.Running }
            && job.ClaimedBy == command.Node
            && job.Attempts == command.Attempt;
        if (!holdsClaim)
        {
            return new JobChange(false, job);
        }

        return new JobChange(true, EndAttempt(job!, command.Error, now));
    }

    // The end of a failed attempt (an error or an expired lease): retry later, or fail for good.
    private Job EndAttempt(Job job, string error, long now)
    {
        using var update = job.Attempts >= job.MaxAttempts
            ? Write(Schema.JobFailForGood)
            : Write(Schema.JobRetry).With("$run_at", now + RetryPolicy.BackoffMs(job.JobId, job.Attempts));
        update.With("$job_id", job.JobId).With("$error", error).With("$now", now);
        return JobRow.ReadSingle(update)!;
    }

    private CommandResult Cancel(CancelJob command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.JobId))
        {
            return new Rejected("cancel_job: job id is required");
        }

        using var cancel = Write(Schema.JobCancel).With("$job_id", command.JobId).With("$now", now);
        return JobRow.ReadSingle(cancel) is { } cancelled
            ? new JobChange(true, cancelled)
            : new JobChange(false, CurrentJob(command.JobId));
    }

    private CommandResult Rescue(long now)
    {
        var expired = new List<Job>();
        using (var select = Write(Schema.JobsExpiredLeases).With("$now", now))
        {
            expired.AddRange(JobRow.ReadAll(select));
        }

        foreach (var job in expired)
        {
            var error = string.Create(
                CultureInfo.InvariantCulture,
                $"lease expired on {job.ClaimedBy} (attempt {job.Attempts})");
            EndAttempt(job, error, now);
        }

        return new CountResult(expired.Count);
    }

    private CommandResult Register(RegisterWorkflow command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.Name) || command.Name.Length > MaxIdLength)
        {
            return new Rejected($"register_workflow: name must be 1..{MaxIdLength} characters and not blank");
        }

        if (command.Module is null || command.Module.Length == 0 || command.Sha256 is null)
        {
            return new Rejected("register_workflow: module and sha256 are required");
        }

        if (command.TimeoutMs is <= 0)
        {
            return new Rejected("register_workflow: timeout_ms must be positive");
        }

        var sha256 = Convert.ToHexStringLower(SHA256.HashData(command.Module));
        if (!string.Equals(sha256, command.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            return new Rejected($"register_workflow: sha256 {command.Sha256} does not match the module ({sha256})");
        }

        using (var module = Write(Schema.ModuleInsert).With("$sha256", sha256).With("$bytes", command.Module))
        {
            module.ExecuteNonQuery();
        }

        using (var upsert = Write(Schema.WorkflowUpsert)
            .With("$name", command.Name)
            .With("$sha256", sha256)
            .With("$now", now)
            .With("$timeout_ms", command.TimeoutMs))
        {
            upsert.ExecuteNonQuery();
        }

        using (var collect = Write(Schema.ModulesDeleteUnreferenced))
        {
            collect.ExecuteNonQuery();
        }

        return new CountResult(1);
    }

    private Job? CurrentJob(string jobId)
    {
        using var get = Write(Schema.JobGetById).With("$job_id", jobId);
        return JobRow.ReadSingle(get);
    }

    private SqliteCommand Write(string sql)
    {
        var command = _writer.CreateCommand();
        command.Transaction = _transaction;
        command.CommandText = sql;
        return command;
    }

    /// <summary>
    /// The claim order (priority desc, run_at, job_id), with ids compared as UTF-8 bytes like
    /// SQLite's BINARY collation, so the result lists jobs in the order they were chosen.
    /// </summary>
    private sealed class ClaimOrder : IComparer<Job>
    {
        public static readonly ClaimOrder Instance = new();

        public int Compare(Job? x, Job? y)
        {
            if (x is null || y is null)
            {
                return x is null ? (y is null ? 0 : -1) : 1;
            }

            var byPriority = y.Priority.CompareTo(x.Priority);
            if (byPriority != 0)
            {
                return byPriority;
            }

            var byRunAt = x.RunAt.CompareTo(y.RunAt);
            return byRunAt != 0
                ? byRunAt
                : Encoding.UTF8.GetBytes(x.JobId).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y.JobId));
        }
    }
}
