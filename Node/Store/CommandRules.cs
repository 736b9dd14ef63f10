using System.Text.Json;

namespace Flotilla.Node.Store;

/// <summary>
/// The shape every command must have. <see cref="Check"/> runs on arrival, before a command is
/// proposed (a follower's forwarded batch included), so nothing malformed reaches the log or a
/// commit loop; apply re-checks the cheap rules as a backstop and rejects, never throws.
/// </summary>
internal static class CommandRules
{
    public const int MaxIdLength = 256;

    /// <summary>Null when the command may be proposed; else what is wrong with it.</summary>
    public static string? Check(Command? command) => command switch
    {
        null => "null command",
        SubmitJobs { Jobs: null or { Count: 0 } } => "submit_jobs: no jobs",
        SubmitJobs c => CheckJobs(c.Jobs),
        RegisterWorkflow { Module: null or { Length: 0 } } or RegisterWorkflow { Sha256: null } => "register_workflow: module and sha256 are required",
        RegisterWorkflow { Name: null } => "register_workflow: name is required",
        FinishJobs { Node: null } or FinishJobs { Outcomes: null } => "finish_jobs: node and outcomes are required",
        FinishJobs c when c.Outcomes.Any(o => o?.JobId is null) => "finish_jobs: every outcome needs a job id",
        FinishJobs c when c.Outcomes.Any(o => o is { Kind: OutcomeKind.Parked, RunAt: null or < 0 }) => "finish_jobs: a parked outcome needs run_at",
        RenewLeases { Node: null } or RenewLeases { Jobs: null } => "renew_leases: node and jobs are required",
        OfferCapacity { Node: null } => "offer_capacity: node is required",
        CancelJob { JobId: null } => "cancel_job: job id is required",
        ClaimJobs { Node: null } => "claim_jobs: node is required",
        CompleteJob { JobId: null } or CompleteJob { Node: null } => "complete_job: job id and node are required",
        FailJob { JobId: null } or FailJob { Node: null } or FailJob { Error: null } => "fail_job: job id, node and error are required",
        _ => null,
    };

    private static string? CheckJobs(IReadOnlyList<NewJob> jobs)
    {
        for (var i = 0; i < jobs.Count; i++)
        {
            var reason = Invalid(jobs[i]) ?? (IsJson(jobs[i].Payload) ? null : "payload is not valid JSON");
            if (reason is not null)
            {
                return $"submit_jobs: job {i}: {reason}";
            }
        }

        return null;
    }

    /// <summary>The cheap field rules of a new job (no JSON parsing): null when it may be stored.</summary>
    public static string? Invalid(NewJob? job)
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

        if (job.Payload is null)
        {
            return "payload is required";
        }

        if (job.MaxAttempts < 1)
        {
            return "max_attempts must be at least 1";
        }

        if (job.RunAt < 0 || job.DelayMs < 0)
        {
            return "run_at and delay_ms must not be negative";
        }

        if (job.TimeoutMs is <= 0)
        {
            return "timeout_ms must be positive";
        }

        if (job.IdempotencyKey is { Length: 0 } || job.IdempotencyKey?.Length > MaxIdLength)
        {
            return $"idempotency_key must be 1..{MaxIdLength} characters";
        }

        return null;
    }

    /// <summary>Rough size of a command in a log entry, for capping an entry's size.</summary>
    public static long EstimateBytes(Command? command) => command switch
    {
        null => 0,
        SubmitJobs { Jobs: { } jobs } => jobs.Sum(j => 256L + (j?.Payload?.Length ?? 0)),
        RegisterWorkflow { Module: { } module } => 256L + (module.Length * 4L / 3),
        FinishJobs { Outcomes: { } outcomes } => outcomes.Sum(EstimateBytes),
        RenewLeases { Jobs: { } jobs } => 64L * jobs.Count,
        AppendJournal { Entries: { } entries } => 128L + entries.Sum(e => 64L + (e?.Request?.Length ?? 0) + ((e?.Response?.Length ?? 0) * 4L / 3)),
        _ => 256,
    };

    /// <summary>Rough size of one outcome in a <see cref="FinishJobs"/> (its text is up to a job's whole result).</summary>
    public static long EstimateBytes(JobOutcome? outcome) => 96L + (outcome?.Text?.Length ?? 0);

    private static bool IsJson(string text)
    {
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
}
