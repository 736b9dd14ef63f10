using Flotilla.Node.Cluster;
using Flotilla.Node.Store;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Maintenance;

/// <summary>
/// Leader-only: a workflow registered again under the same name keeps its old module for the
/// unfinished jobs pinned to it (version pinning). Once none is left, proposes
/// <see cref="PurgeModules"/>, which deletes every module no workflow names and no unfinished
/// job needs. Looks at the local copy first, so it costs nothing while no old version is kept.
/// Runs every <c>Jobs:CheckEvery</c>, with the retention cleaner.
/// </summary>
internal sealed partial class ModuleCollector(
    RaftNode node, JobStore store, Proposer proposer, TimeProvider time, IOptions<RetentionOptions> options, ILogger<ModuleCollector> logger)
    : PeriodicMaintenance(time, logger)
{
    protected override TimeSpan Every => options.Value.CheckEvery;

    public override async Task RunOnceAsync(CancellationToken token)
    {
        if (node.Cluster?.Leader is not { IsRemote: false } || store.CountUnusedModules() == 0)
        {
            return;
        }

        if (await proposer.ProposeAsync(new PurgeModules(), token).ConfigureAwait(false) is CountResult { Count: > 0 } purged)
        {
            LogPurged(purged.Count);
        }
    }

    [LoggerMessage(EventId = 2501, Level = LogLevel.Information, Message = "Deleted {Count} old module version(s) no unfinished job is pinned to")]
    private partial void LogPurged(int count);
}
