using Flotilla.Node.Store;
using Microsoft.Data.Sqlite;

namespace Flotilla.Node.Tests.Store;

public sealed class SnapshotTests : IDisposable
{
    private readonly TempStores _stores = new();

    public void Dispose() => _stores.Dispose();

    [Fact]
    public void RestoredSnapshotHasTheSameChecksumAndAppliedIndex()
    {
        var leader = _stores.Open("leader");
        ReplicatedLog.ApplyAll(_stores, leader);
        var snapshot = Path.Combine(_stores.Folder, "snapshots", "leader.snapshot");

        leader.WriteSnapshot(snapshot);
        var fresh = _stores.Open("fresh");
        var restored = fresh.RestoreSnapshot(snapshot);

        Assert.True(restored);
        Assert.Equal(leader.AppliedIndex, fresh.AppliedIndex);
        Assert.Equal(leader.Checksum(), fresh.Checksum());
        Assert.Equal(leader.ListJobs(new JobQuery(Limit: 1000)), fresh.ListJobs(new JobQuery(Limit: 1000)));
        Assert.Equal(leader.GetWorkflowModule("echo")!.Module, fresh.GetWorkflowModule("echo")!.Module);
    }

    [Fact]
    public void APinnedStateIsCopiedAsItWasWhenPinnedWhileApplyGoesOn()
    {
        var leader = _stores.Open("leader");
        _stores.Submit(leader, 1_000, TempStores.NewJob("before"));
        var pinnedChecksum = leader.Checksum();
        var pinnedIndex = leader.AppliedIndex;
        var snapshot = Path.Combine(_stores.Folder, "pinned.snapshot");

        using (var state = leader.PinState())
        {
            // Apply goes on (the store's writer is not blocked by the pinned read) ...
            _stores.Submit(leader, 2_000, TempStores.NewJob("after"));
            Assert.True(leader.AppliedIndex > pinnedIndex);
            Assert.NotNull(leader.GetJob("after"));

            // ... and the copy holds the state of the pin, not the later one.
            Assert.Equal(pinnedIndex, state.AppliedIndex);
            state.CopyTo(snapshot);
        }

        var fresh = _stores.Open("fresh");
        Assert.True(fresh.RestoreSnapshot(snapshot));
        Assert.Equal(pinnedIndex, fresh.AppliedIndex);
        Assert.Equal(pinnedChecksum, fresh.Checksum());
        Assert.Null(fresh.GetJob("after"));
        Assert.False(File.Exists(snapshot + ".partial"));
        Assert.False(File.Exists(snapshot + "-wal"));
    }

    [Fact]
    public void RestoredStoreKeepsApplyingTheLog()
    {
        var leader = _stores.Open("leader");
        _stores.Submit(leader, 1_000, TempStores.NewJob("a"), TempStores.NewJob("b"));
        var snapshot = Path.Combine(_stores.Folder, "s1");
        leader.WriteSnapshot(snapshot);
        var follower = _stores.Open("follower");
        Assert.True(follower.RestoreSnapshot(snapshot));

        var next = new CommandBatch(Guid.Empty, 2_000, [new ClaimJobs("node1", 1, 5_000)]);
        leader.Apply(2, next);
        var result = follower.Apply(2, next);

        Assert.Equal("a", Assert.Single(Assert.IsType<JobsResult>(Assert.Single(result!)).Jobs).JobId);
        Assert.Equal(leader.Checksum(), follower.Checksum());
    }

    [Fact]
    public void RefusesASnapshotThatIsNotNewer()
    {
        var source = _stores.Open("source");
        _stores.Submit(source, 1_000, TempStores.NewJob("old"));
        var snapshot = Path.Combine(_stores.Folder, "old.snapshot");
        source.WriteSnapshot(snapshot);

        var ahead = _stores.Open("ahead");
        _stores.Submit(ahead, 1_000, TempStores.NewJob("mine"));
        _stores.Submit(ahead, 1_000, TempStores.NewJob("mine-too"));
        var checksum = ahead.Checksum();
        var equal = _stores.Open("equal");
        _stores.Submit(equal, 1_000, TempStores.NewJob("other"));

        Assert.False(ahead.RestoreSnapshot(snapshot));
        Assert.False(equal.RestoreSnapshot(snapshot));
        Assert.Equal(checksum, ahead.Checksum());
        Assert.Equal(2, ahead.AppliedIndex);
        Assert.NotNull(equal.GetJob("other"));
        Assert.Null(equal.GetJob("old"));
    }

    [Fact]
    public void RestoreReplacesExistingContentAndKeepsReadersWorking()
    {
        var source = _stores.Open("source");
        _stores.Submit(source, 1_000, TempStores.NewJob("theirs"));
        _stores.Submit(source, 1_000, TempStores.NewJob("theirs-2"));
        var snapshot = Path.Combine(_stores.Folder, "theirs.snapshot");
        source.WriteSnapshot(snapshot);

        var target = _stores.Open("target");
        _stores.Submit(target, 1_000, TempStores.NewJob("mine"));
        Assert.NotNull(target.GetJob("mine")); // leaves a pooled reader open on the old content

        Assert.True(target.RestoreSnapshot(snapshot));

        Assert.Null(target.GetJob("mine"));
        Assert.NotNull(target.GetJob("theirs"));
        Assert.Equal(source.Checksum(), target.Checksum());

        // The backup must not turn our database back into rollback-journal mode.
        using var raw = new SqliteConnection($"Data Source={target.DatabasePath};Mode=ReadOnly;Pooling=False");
        raw.Open();
        using var pragma = raw.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", pragma.ExecuteScalar());
    }

    [Fact]
    public void RefusesAFileThatIsNotASnapshot()
    {
        var store = _stores.Open();
        var notSnapshot = Path.Combine(_stores.Folder, "empty.db");
        using (var empty = new SqliteConnection($"Data Source={notSnapshot};Pooling=False"))
        {
            empty.Open();
        }

        Assert.Throws<InvalidDataException>(() => store.RestoreSnapshot(notSnapshot));
        Assert.Throws<FileNotFoundException>(() => store.RestoreSnapshot(Path.Combine(_stores.Folder, "missing")));
        Assert.Equal(0, store.AppliedIndex);
    }

    [Fact]
    public void WritingASnapshotOverAnOldOneReplacesIt()
    {
        var store = _stores.Open();
        var snapshot = Path.Combine(_stores.Folder, "rolling.snapshot");
        _stores.Submit(store, 1_000, TempStores.NewJob("a"));
        store.WriteSnapshot(snapshot);
        _stores.Submit(store, 1_000, TempStores.NewJob("b"));

        store.WriteSnapshot(snapshot);
        var fresh = _stores.Open("fresh");

        Assert.True(fresh.RestoreSnapshot(snapshot));
        Assert.Equal(2, fresh.AppliedIndex);
        Assert.NotNull(fresh.GetJob("b"));
    }
}
