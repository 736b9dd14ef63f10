using System.Globalization;

namespace Flotilla.Node.Store;

// The ends of attempts: outcomes (fenced by node and attempt), cancels, expired leases,
// lease renewals, and the retention purge of finished jobs.
internal sealed partial class JobStore
{
    private CommandResult Finish(FinishJobs command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.Node) || command.Outcomes is null)
        {
            return new Rejected("finish_jobs: node and outcomes are required");
        }

        var applied = 0;
        foreach (var outcome in command.Outcomes)
        {
            if (outcome?.JobId is null)
            {
                continue;
            }

            var changed = outcome.Kind switch
            {
                OutcomeKind.Completed => Prepared(Schema.JobComplete)
                    .With("$job_id", outcome.JobId)
                    .With("$node", command.Node)
                    .With("$attempt", outcome.Attempt)
                    .With("$result", outcome.Text)
                    .With("$now", now)
                    .With("$started_at", outcome.StartedAt)
                    .ExecuteNonQuery(),
                OutcomeKind.Released => Write(Schema.JobRelease)
                    .With("$job_id", outcome.JobId)
                    .With("$node", command.Node)
                    .With("$attempt", outcome.Attempt)
                    .With("$now", now)
                    .ExecuteNonQuery(),
                OutcomeKind.Parked => Write(Schema.JobPark)
                    .With("$job_id", outcome.JobId)
                    .With("$node", command.Node)
                    .With("$attempt", outcome.Attempt)
                    .With("$run_at", Math.Max(0, outcome.RunAt ?? now))
                    .With("$now", now)
                    .With("$started_at", outcome.StartedAt)
                    .ExecuteNonQuery(),
                OutcomeKind.FailedPermanently => FailFenced(outcome.JobId, command.Node, outcome.Attempt, outcome.Text ?? "failed", now, outcome.StartedAt, forGood: true),
                _ => FailFenced(outcome.JobId, command.Node, outcome.Attempt, outcome.Text ?? "failed", now, outcome.StartedAt),
            };
            applied += changed;
            AddHeld(command.Node, -changed);
        }

        // Outcomes that lost their claim (lease expired, cancelled) are ignored, not rejected:
        // the others in the same command still count.
        return new CountResult(applied);
    }

    private int FailFenced(string jobId, string node, int attempt, string error, long now, long? startedAt = null, bool forGood = false)
    {
        int attempts, maxAttempts;
        using (var fence = Write(Schema.JobFence).With("$job_id", jobId).With("$node", node).With("$attempt", attempt).ExecuteReader())
        {
            if (!fence.Read())
            {
                return 0;
            }

            attempts = fence.GetInt32(0);
            maxAttempts = fence.GetInt32(1);
        }

        var update = forGood || attempts >= maxAttempts
            ? Write(Schema.JobFailForGood)
            : Write(Schema.JobRetry).With("$run_at", now + RetryPolicy.BackoffMs(jobId, attempts));
        return update.With("$job_id", jobId).With("$error", error).With("$now", now).With("$started_at", startedAt).ExecuteNonQuery();
    }

    private CommandResult Complete(CompleteJob command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.JobId) || string.IsNullOrWhiteSpace(command.Node))
        {
            return new Rejected("complete_job: job id and node are required");
        }

        var changed = Write(Schema.JobComplete)
            .With("$job_id", command.JobId)
            .With("$node", command.Node)
            .With("$attempt", command.Attempt)
            .With("$result", command.Result)
            .With("$now", now)
            .With("$started_at", null)
            .ExecuteNonQuery() == 1;
        AddHeld(command.Node, changed ? -1 : 0);
        return new JobChange(changed, CurrentJob(command.JobId));
    }

    private CommandResult Fail(FailJob command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.JobId) || string.IsNullOrWhiteSpace(command.Node) || command.Error is null)
        {
            return new Rejected("fail_job: job id, node and error are required");
        }

        var changed = FailFenced(command.JobId, command.Node, command.Attempt, command.Error, now) == 1;
        AddHeld(command.Node, changed ? -1 : 0);
        return new JobChange(changed, CurrentJob(command.JobId));
    }

    private CommandResult Cancel(CancelJob command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.JobId))
        {
            return new Rejected("cancel_job: job id is required");
        }

        var before = CurrentJob(command.JobId);
        if (JobRow.ReadSingle(Write(Schema.JobCancel).With("$job_id", command.JobId).With("$now", now)) is not { } cancelled)
        {
            return new JobChange(false, before);
        }

        if (before is { Status: JobStatus.Running, ClaimedBy: { } node })
        {
            _revoked!.Add(new RevokedJob(before.JobId, node, before.Fence));
            AddHeld(node, -1);
        }

        return new JobChange(true, cancelled);
    }

    private CommandResult Rescue(long now)
    {
        var expired = JobRow.ReadAll(Write(Schema.JobsExpiredLeases).With("$now", now));
        foreach (var job in expired)
        {
            var error = string.Create(CultureInfo.InvariantCulture, $"lease expired on {job.ClaimedBy} (attempt {job.Attempts})");
            var update = job.Attempts >= job.MaxAttempts
                ? Write(Schema.JobFailForGood)
                : Write(Schema.JobRetry).With("$run_at", now + RetryPolicy.BackoffMs(job.JobId, job.Attempts));
            update.With("$job_id", job.JobId).With("$error", error).With("$now", now).With("$started_at", null).ExecuteNonQuery();
            _revoked!.Add(new RevokedJob(job.JobId, job.ClaimedBy!, job.Fence));
            AddHeld(job.ClaimedBy!, -1);

            // A node that let a lease run out is not renewing: assign it nothing more until it
            // offers again (a live one does within a heartbeat), or the rescued job may go
            // straight back to a dead node.
            Write(Schema.WorkerMarkDead).With("$node", job.ClaimedBy).With("$now", now).ExecuteNonQuery();
        }

        return new CountResult(expired.Count);
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

            renewed += Write(Schema.JobRenewLease)
                .With("$job_id", job.JobId)
                .With("$node", command.Node)
                .With("$attempt", job.Attempt)
                .With("$now", now)
                .With("$lease_ms", command.LeaseMs)
                .ExecuteNonQuery();
        }

        return new CountResult(renewed);
    }

    private CommandResult Purge(PurgeFinishedJobs command, long now)
    {
        if (command.RetentionMs < 0 || command.Max <= 0)
        {
            return new Rejected("purge_finished_jobs: retention_ms must not be negative and max must be positive");
        }

        return new CountResult(Write(Schema.JobsPurgeFinished)
            .With("$before", now - command.RetentionMs)
            .With("$max", command.Max)
            .ExecuteNonQuery());
    }
}
