using Flotilla.Node.Store;
using Flotilla.Node.Workflows;
using Flotilla.Node.Workflows.Durable;

namespace Flotilla.Node.Worker;

// Durable workflows: each run gets a journal over the job's committed host calls (read only if
// the guest turns out to be durable); the calls it made live ride to the log in the same entry
// as its outcome, ahead of it, so the append is fenced by the same claim.
internal sealed partial class JobWorker
{
    private RunJournal NewJournal(Job job, CancellationToken token) => new(() => ToHostCalls(store.GetJournal(job.JobId)))
    {
        Committer = calls => CommitJournalAsync(job, calls, token),
        CanPark = true,
    };

    // A commit during the run (before a long sleep): alone in its entry, fenced like the rest.
    private async Task CommitJournalAsync(Job job, IReadOnlyList<HostCall> calls, CancellationToken token)
    {
        var append = new AppendJournal(job.JobId, node.NodeId, job.Fence, [.. calls.Select(ToEntry)]);
        var proposed = await proposer.ProposeAsync([append], 0, token, readYourWrites: false).ConfigureAwait(false);
        switch (proposed.Results[0])
        {
            case Rejected rejected:
                throw new InvalidOperationException($"journal not committed: {rejected.Reason}");
            case JobChange change:
                // The store failed the job (a journal limit): its guest must stop.
                throw new InvalidOperationException($"journal not committed: {change.Job?.Error ?? "the job was failed"}");
        }
    }

    /// <summary>A journal that diverged (or hit its limit) decides the outcome: its reason, whatever the guest did after.</summary>
    internal static WorkflowOutcome WithJournalFailure(RunJournal journal, WorkflowOutcome outcome) =>
        journal.Failure is { } failure ? WorkflowOutcome.Failure(failure) : outcome;

    /// <summary>The committed journal as the runner replays it.</summary>
    internal static HostCall[] ToHostCalls(IReadOnlyList<JournalEntry> entries) =>
        [.. entries.Select(e => new HostCall(e.Seq, e.Kind, e.RequestHash, e.Request, e.Response ?? [], e.At, e.State == JournalState.Intent))];

    /// <summary>The live calls of a durable run not committed yet, to be appended ahead of its outcome; null when there are none.</summary>
    internal static AppendJournal? ToAppend(Job job, string nodeId, RunJournal journal) =>
        journal.Opened && journal.Pending is { Count: > 0 } pending
            ? new AppendJournal(job.JobId, nodeId, job.Fence, [.. pending.Select(ToEntry)])
            : null;

    private static JournalEntry ToEntry(HostCall call) =>
        new(call.Seq, call.Kind, call.RequestHash, call.Request, call.Intent ? null : call.Response, call.Intent ? JournalState.Intent : JournalState.Done, call.At);

    /// <summary>The entry for a batch of outcomes: the journals of their runs first (apply keeps the order), then the outcomes.</summary>
    private static Command[] WithJournals(IEnumerable<AppendJournal?> journals, FinishJobs finish) =>
        [.. journals.OfType<AppendJournal>(), finish];
}
