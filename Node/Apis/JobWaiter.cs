using System.Threading.Channels;
using Flotilla.Node.Cluster;
using Flotilla.Node.Store;

namespace Flotilla.Node.Apis;

/// <summary>
/// <c>GET /jobs/{id}?wait_ms=N</c>: every node applies every commit, so a job's change is seen
/// here as soon as this node applies it. The waiter re-reads the job when
/// <see cref="RaftNode.Applied"/> fires (no polling) and answers once it is finished or the wait is over.
/// </summary>
internal sealed class JobWaiter(RaftNode node, JobStore store)
{
    /// <summary>The job once finished, else as it is when <paramref name="wait"/> is over; null if there is no such job.</summary>
    public async Task<Job?> WaitUntilFinishedAsync(string id, TimeSpan wait, CancellationToken token)
    {
        // One pending wake-up is enough: each one re-reads the job, which sees every apply before it.
        var applied = Channel.CreateBounded<long>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        void OnApplied(long index) => applied.Writer.TryWrite(index);

        // Subscribe before the first read, so an apply between the read and the wait is not missed.
        node.Applied += OnApplied;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(wait);
            while (true)
            {
                var job = store.GetJob(id);
                if (job is null || IsFinished(job.Status))
                {
                    return job;
                }

                try
                {
                    await applied.Reader.ReadAsync(timeout.Token);
                }
                catch (OperationCanceledException) when (!token.IsCancellationRequested)
                {
                    return store.GetJob(id);
                }
            }
        }
        finally
        {
            node.Applied -= OnApplied;
        }
    }

    private static bool IsFinished(JobStatus status) => status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;
}
