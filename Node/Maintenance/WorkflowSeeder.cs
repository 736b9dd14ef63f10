using System.Security.Cryptography;
using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Flotilla.Node.Workflows;

namespace Flotilla.Node.Maintenance;

/// <summary>
/// Leader-only: registers the built-in workflows (echo, fail, spin, sleep) that a cluster is
/// missing, so a new cluster can run jobs at once. A name already registered is left alone:
/// a user's own <c>echo</c> is never overwritten.
/// </summary>
internal sealed partial class WorkflowSeeder(RaftNode node, JobStore store, Proposer proposer, ILogger<WorkflowSeeder> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (node.Cluster?.Leader is not { IsRemote: false })
            {
                continue;
            }

            var known = store.ListWorkflows().Select(w => w.Name).ToHashSet();
            var missing = BuiltinWorkflows.All
                .Where(b => !known.Contains(b.Name))
                .Select(b => (Command)new RegisterWorkflow(
                    b.Name, Convert.ToHexStringLower(SHA256.HashData(b.Module)), b.Module, (int)b.DefaultTimeout.TotalMilliseconds))
                .ToArray();
            if (missing.Length == 0)
            {
                return; // seeded; a later leader finds nothing missing and stops at once too
            }

            try
            {
                await proposer.ProposeAsync(missing, 0, stoppingToken).ConfigureAwait(false);
                LogSeeded(missing.Length);
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Leadership moved or the answer was lost: whoever leads now seeds, or this
                // node retries (registering the same module twice changes nothing).
                LogRetry(ex.Message);
            }
        }
    }

    [LoggerMessage(EventId = 2202, Level = LogLevel.Debug, Message = "Seeding built-in workflows deferred: {Reason}")]
    private partial void LogRetry(string reason);

    [LoggerMessage(EventId = 2201, Level = LogLevel.Information, Message = "Registered {Count} built-in workflow(s)")]
    private partial void LogSeeded(int count);
}
