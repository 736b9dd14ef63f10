namespace Flotilla.Node.Store;

// SubmitJobs: all-or-nothing inserts, idempotent by key and by replayed job id.
internal sealed partial class JobStore
{
    private CommandResult Submit(SubmitJobs command, long now)
    {
        if (command.Jobs is null || command.Jobs.Count == 0)
        {
            return new Rejected("submit_jobs: no jobs");
        }

        var stored = new List<Job>(command.Jobs.Count);
        Dictionary<string, string?>? pins = null;
        for (var i = 0; i < command.Jobs.Count; i++)
        {
            var job = command.Jobs[i];
            if (CommandRules.Invalid(job) is { } reason)
            {
                return new Rejected($"submit_jobs: job {i}: {reason}");
            }

            // A known key means the job was accepted before (a retried request): hand back
            // the stored job. This also covers a key repeated inside this command.
            if (job.IdempotencyKey is not null
                && JobRow.ReadSingle(Write(Schema.JobGetByIdempotencyKey).With("$key", job.IdempotencyKey)) is { } byKey)
            {
                if (command.SameBodyPerKey && !SameBody(byKey, job))
                {
                    return new Rejected($"submit_jobs: job {i}: idempotency_key '{job.IdempotencyKey}' belongs to job {byKey.JobId}, submitted with a different body");
                }

                stored.Add(byKey);
                continue;
            }

            var runAt = job.DelayMs is { } delay ? now + delay : job.RunAt;

            // Version pinning: the job runs the module its workflow names now, whatever is
            // registered under that name later. Looked up once per workflow per command.
            pins ??= new Dictionary<string, string?>(StringComparer.Ordinal);
            if (!pins.TryGetValue(job.Workflow, out var module))
            {
                module = Write(Schema.WorkflowGetSha).With("$name", job.Workflow).ExecuteScalar() as string;
                pins[job.Workflow] = module;
            }

            var inserted = Prepared(Schema.JobInsert)
                .With("$job_id", job.JobId)
                .With("$queue", job.Queue)
                .With("$workflow", job.Workflow)
                .With("$payload", job.Payload)
                .With("$priority", job.Priority)
                .With("$run_at", runAt)
                .With("$max_attempts", job.MaxAttempts)
                .With("$now", now)
                .With("$idempotency_key", job.IdempotencyKey)
                .With("$trace_parent", job.TraceParent)
                .With("$timeout_ms", job.TimeoutMs)
                .With("$module_sha256", module)
                .ExecuteNonQuery() == 1;
            if (!inserted)
            {
                // The same id with the same content is the same proposal replayed (a write
                // retried after leadership moved mid-flight): it was accepted once, so hand it back.
                var existing = CurrentJob(job.JobId)!;
                if (existing.Workflow == job.Workflow && existing.Payload == job.Payload && existing.Queue == job.Queue)
                {
                    stored.Add(existing);
                    continue;
                }

                return new Rejected($"submit_jobs: job {i}: job id '{job.JobId}' already exists");
            }

            // The row is known: building it costs nothing, reading it back (RETURNING) did.
            stored.Add(new Job(
                job.JobId, JobStatus.Pending, job.Queue, job.Workflow, job.Payload, job.Priority, runAt, 0, job.MaxAttempts,
                null, null, null, now, now, null, null, job.IdempotencyKey, job.TraceParent, job.TimeoutMs, ModuleSha256: module));
        }

        return new JobsResult(stored);
    }

    // What the client asked for, as sent. Not when it runs: a retried request with delay_ms is
    // the same request although "now" has moved.
    private static bool SameBody(Job existing, NewJob job) =>
        existing.Workflow == job.Workflow && existing.Payload == job.Payload && existing.Queue == job.Queue
        && existing.Priority == job.Priority && existing.MaxAttempts == job.MaxAttempts && existing.TimeoutMs == job.TimeoutMs;
}
