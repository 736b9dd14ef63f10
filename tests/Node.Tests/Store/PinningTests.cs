using System.Security.Cryptography;
using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

/// <summary>
/// Version pinning in the store: a job is pinned at submit to the module its workflow names
/// then; registering the name again keeps the old module while an unfinished job needs it, and
/// <see cref="PurgeModules"/> deletes it once none does.
/// </summary>
public sealed class PinningTests : IDisposable
{
    private static readonly byte[] _v1 = [0, 0x61, 0x73, 0x6d, 1];
    private static readonly byte[] _v2 = [0, 0x61, 0x73, 0x6d, 2];
    private static readonly byte[] _v3 = [0, 0x61, 0x73, 0x6d, 3];

    private readonly TempStores _stores = new();

    public void Dispose() => _stores.Dispose();

    [Fact]
    public void AJobKeepsTheModuleItWasSubmittedWithUntilItFinishes()
    {
        var store = _stores.Open();
        Register(store, 1_000, "flow", _v1);
        var first = Assert.Single(_stores.Submit(store, 1_100, TempStores.NewJob("first") with { Workflow = "flow" }));
        Register(store, 1_200, "flow", _v2);
        var second = Assert.Single(_stores.Submit(store, 1_300, TempStores.NewJob("second") with { Workflow = "flow" }));

        Assert.Equal(Sha(_v1), first.ModuleSha256);
        Assert.Equal(Sha(_v1), store.GetJob("first")!.ModuleSha256);
        Assert.Equal(Sha(_v2), store.GetJob("second")!.ModuleSha256);
        Assert.Equal(Sha(_v2), store.GetWorkflow("flow")!.Sha256);
        Assert.Equal(_v1, store.GetModule(Sha(_v1)));

        // Still needed: a purge keeps it.
        Assert.Equal(0, store.CountUnusedModules());
        Assert.Equal(new CountResult(0), _stores.ApplyOne(store, 1_400, new PurgeModules()));
        Assert.NotNull(store.GetModule(Sha(_v1)));

        _stores.Claim(store, 1_500, "node1");
        _stores.ApplyOne(store, 1_600, new FinishJobs("node1", [new JobOutcome("first", 1, OutcomeKind.Completed, "{}")]));

        Assert.Equal(1, store.CountUnusedModules());
        Assert.Equal(new CountResult(1), _stores.ApplyOne(store, 1_700, new PurgeModules()));
        Assert.Null(store.GetModule(Sha(_v1)));
        Assert.Equal(_v2, store.GetModule(Sha(_v2)));
        Assert.Equal(Sha(_v1), store.GetJob("first")!.ModuleSha256); // the finished job still names what it ran
    }

    [Fact]
    public void ARegistrationDeletesAnOldModuleNoUnfinishedJobNeeds()
    {
        var store = _stores.Open();
        Register(store, 1_000, "flow", _v1);
        Register(store, 1_100, "flow", _v2);
        _stores.Submit(store, 1_200, TempStores.NewJob("on-v2") with { Workflow = "flow" });

        Register(store, 1_300, "flow", _v3);

        Assert.Null(store.GetModule(Sha(_v1)));
        Assert.NotNull(store.GetModule(Sha(_v2)));
        Assert.NotNull(store.GetModule(Sha(_v3)));
    }

    [Fact]
    public void AJobOfAnUnknownWorkflowIsStoredUnpinned()
    {
        var store = _stores.Open();

        var job = Assert.Single(_stores.Submit(store, 1_000, TempStores.NewJob("a") with { Workflow = "nobody" }));

        Assert.Null(job.ModuleSha256);
        Assert.Null(store.GetJob("a")!.ModuleSha256);
    }

    [Fact]
    public void PinsAndKeptModulesAreReplicatedState()
    {
        var leader = _stores.Open("leader");
        var follower = _stores.Open("follower");
        foreach (var store in new[] { leader, follower })
        {
            Register(store, 1_000, "flow", _v1);
            _stores.Submit(store, 1_100, TempStores.NewJob("a") with { Workflow = "flow" });
            Register(store, 1_200, "flow", _v2);
        }

        var checksum = leader.Checksum();
        Assert.Equal(checksum, follower.Checksum());

        // A follower that pinned another module (or purged the kept one) would differ.
        _stores.ApplyOne(follower, 1_300, new CancelJob("a"));
        _stores.ApplyOne(follower, 1_400, new PurgeModules());
        _stores.ApplyOne(leader, 1_300, new CancelJob("a"));
        Assert.NotEqual(leader.Checksum(), follower.Checksum());

        var snapshot = Path.Combine(_stores.Folder, "pinned.snapshot");
        leader.WriteSnapshot(snapshot);
        var restored = _stores.Open("restored");
        Assert.True(restored.RestoreSnapshot(snapshot));
        Assert.Equal(leader.Checksum(), restored.Checksum());
        Assert.Equal(Sha(_v1), restored.GetJob("a")!.ModuleSha256);
        Assert.NotNull(restored.GetModule(Sha(_v1)));
    }

    private void Register(JobStore store, long now, string name, byte[] module) =>
        Assert.Equal(new CountResult(1), _stores.ApplyOne(store, now, new RegisterWorkflow(name, Sha(module), module)));

    private static string Sha(byte[] module) => Convert.ToHexStringLower(SHA256.HashData(module));
}
