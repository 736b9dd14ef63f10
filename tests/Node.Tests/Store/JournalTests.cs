using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

/// <summary>The durable-workflow journal in the replicated store: fenced appends, deletion with the job, checksums.</summary>
public sealed class JournalTests : IDisposable
{
    private readonly TempStores _stores = new();

    public void Dispose() => _stores.Dispose();

    [Fact]
    public void TheCurrentClaimAppendsInOrder()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a"));
        _stores.Claim(store, 1_000, "node1");

        var first = _stores.ApplyOne(store, 2_000, Append("a", "node1", 1, 1, 2));
        var second = _stores.ApplyOne(store, 2_100, Append("a", "node1", 1, 3));

        Assert.Equal(new CountResult(2), first);
        Assert.Equal(new CountResult(1), second);
        var journal = store.GetJournal("a");
        Assert.Equal([1, 2, 3], journal.Select(e => e.Seq));
        Assert.Equal(["now_ms", "random_bytes", "now_ms"], journal.Select(e => e.Kind));
        Assert.Equal([1, 1, 1], journal.Select(e => e.Attempt));
        Assert.Equal(Response(2), journal[1].Response);
        Assert.Equal(1_002, journal[1].At);
    }

    [Fact]
    public void AStaleClaimsAppendIsRejected()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a"));
        _stores.Claim(store, 1_000, "node1", leaseMs: 1_000);
        Assert.Equal(new CountResult(1), _stores.ApplyOne(store, 1_500, Append("a", "node1", 1, 1)));
        _stores.ApplyOne(store, 5_000, new RescueExpiredLeases());
        _stores.Claim(store, 10_000_000, "node2");

        // node1 was presumed dead; it wakes up and reports what its guest did since.
        var stale = _stores.ApplyOne(store, 10_000_100, Append("a", "node1", 1, 2));
        var wrongNode = _stores.ApplyOne(store, 10_000_100, Append("a", "node1", 2, 2));
        var current = _stores.ApplyOne(store, 10_000_200, Append("a", "node2", 2, 2));

        Assert.StartsWith("append_journal: node1 attempt 1 does not hold job a", Assert.IsType<Rejected>(stale).Reason);
        Assert.IsType<Rejected>(wrongNode);
        Assert.Equal(new CountResult(1), current);
        Assert.Equal([(1, 1), (2, 2)], store.GetJournal("a").Select(e => (e.Seq, e.Attempt)));
    }

    [Fact]
    public void AnAppendAfterTheJobFinishedIsRejected()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a"));
        _stores.Claim(store, 1_000, "node1");
        _stores.ApplyOne(store, 2_000, new FinishJobs("node1", [new JobOutcome("a", 1, OutcomeKind.Completed, "1")]));

        Assert.IsType<Rejected>(_stores.ApplyOne(store, 2_100, Append("a", "node1", 1, 1)));
        Assert.Empty(store.GetJournal("a"));
    }

    [Fact]
    public void ARepeatedAppendAppliesOnceAndAGapIsRejected()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a"));
        _stores.Claim(store, 1_000, "node1");
        _stores.ApplyOne(store, 2_000, Append("a", "node1", 1, 1, 2));

        // The same proposal again (its first outcome was unknown to the proposer).
        var repeated = _stores.ApplyOne(store, 2_100, Append("a", "node1", 1, 1, 2));
        var gap = _stores.ApplyOne(store, 2_200, Append("a", "node1", 1, 4));
        var other = _stores.ApplyOne(store, 2_300, new AppendJournal("a", "node1", 1, [Entry(2) with { RequestHash = "different" }]));

        Assert.Equal(new CountResult(0), repeated);
        Assert.Contains("expects entry 3, got 4", Assert.IsType<Rejected>(gap).Reason, StringComparison.Ordinal);
        Assert.Contains("already has a different entry 2", Assert.IsType<Rejected>(other).Reason, StringComparison.Ordinal);
        Assert.Equal(2, store.GetJournal("a").Count);
    }

    [Fact]
    public void EntriesRideAheadOfTheFailedOutcomeInOneEntry()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a", maxAttempts: 3));
        _stores.Claim(store, 1_000, "node1");

        var results = _stores.Apply(store, 2_000,
            Append("a", "node1", 1, 1, 2),
            new FinishJobs("node1", [new JobOutcome("a", 1, OutcomeKind.Failed, "exit code 1")]));

        Assert.Equal([new CountResult(2), new CountResult(1)], results);
        Assert.Equal(JobStatus.Pending, store.GetJob("a")!.Status);
        Assert.Equal(2, store.GetJournal("a").Count);
    }

    [Fact]
    public void APermanentFailureIsNotRetriedWhateverTheAttemptsLeft()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a", maxAttempts: 5));
        _stores.Claim(store, 1_000, "node1");

        _stores.ApplyOne(store, 2_000, new FinishJobs("node1", [new JobOutcome("a", 1, OutcomeKind.FailedPermanently, "nondeterminism at seq 1: journal has now_ms, guest asked random_bytes 1")]));

        var job = store.GetJob("a")!;
        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal(1, job.Attempts);
        Assert.StartsWith("nondeterminism at seq 1", job.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void TheJournalIsPurgedWithItsJob()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a"), TempStores.NewJob("b"));
        _stores.Claim(store, 1_000, "node1");
        _stores.Apply(store, 2_000,
            Append("a", "node1", 1, 1, 2),
            Append("b", "node1", 1, 1),
            new FinishJobs("node1", [new JobOutcome("a", 1, OutcomeKind.Completed, "1")]));

        var purged = _stores.ApplyOne(store, 60_000, new PurgeFinishedJobs(RetentionMs: 30_000, Max: 100));

        Assert.Equal(new CountResult(1), purged);
        Assert.Null(store.GetJob("a"));
        Assert.Empty(store.GetJournal("a"));
        Assert.Single(store.GetJournal("b"));
    }

    [Fact]
    public void StoresThatAppliedTheSameJournalEntriesHaveIdenticalChecksums()
    {
        var node1 = _stores.Open("node1");
        var node2 = _stores.Open("node2");
        var node3 = _stores.Open("node3");
        foreach (var store in new[] { node1, node2, node3 })
        {
            _stores.Submit(store, 1_000, TempStores.NewJob("a"));
            _stores.Claim(store, 1_000, "node1");
        }

        _stores.Apply(node1, 2_000, Append("a", "node1", 1, 1, 2), new FinishJobs("node1", [new JobOutcome("a", 1, OutcomeKind.Failed, "x")]));
        _stores.Apply(node2, 2_000, Append("a", "node1", 1, 1, 2), new FinishJobs("node1", [new JobOutcome("a", 1, OutcomeKind.Failed, "x")]));
        // The same jobs table, one journal response different: the checksum must see it.
        _stores.Apply(node3, 2_000, new AppendJournal("a", "node1", 1, [Entry(1), Entry(2) with { Response = [9] }]), new FinishJobs("node1", [new JobOutcome("a", 1, OutcomeKind.Failed, "x")]));

        Assert.Equal(node1.Checksum(), node2.Checksum());
        Assert.Equal(node1.GetJournal("a"), node2.GetJournal("a"), JournalEntryComparer.Instance);
        Assert.Equal(node1.GetJob("a"), node3.GetJob("a"));
        Assert.NotEqual(node1.Checksum(), node3.Checksum());
    }

    [Fact]
    public void ASnapshotCarriesTheJournalAndTheLogEntryRoundTrips()
    {
        var leader = _stores.Open("leader");
        _stores.Submit(leader, 1_000, TempStores.NewJob("a"));
        _stores.Claim(leader, 1_000, "node1");
        // Through the log's own encoding, as a follower receives it.
        var batch = CommandCodec.Decode(new System.Buffers.ReadOnlySequence<byte>(CommandCodec.Encode(
            new CommandBatch(Guid.Empty, 2_000, [Append("a", "node1", 1, 1, 2)]))));
        _stores.Apply(leader, batch.Now, [.. batch.Commands]);
        var snapshot = Path.Combine(_stores.Folder, "snapshots", "journal.snapshot");

        leader.WriteSnapshot(snapshot);
        var fresh = _stores.Open("fresh");
        Assert.True(fresh.RestoreSnapshot(snapshot));

        Assert.Equal(leader.Checksum(), fresh.Checksum());
        Assert.Equal(leader.GetJournal("a"), fresh.GetJournal("a"), JournalEntryComparer.Instance);
        Assert.Equal(Response(2), fresh.GetJournal("a")[1].Response);
    }

    [Fact]
    public void AnIntentGetsItsResultFromTheAttemptThatLearntIt()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a", maxAttempts: 3));
        _stores.Claim(store, 1_000, "node1", leaseMs: 1_000);
        var intent = new JournalEntry(1, "http", "hash-http", "http POST http://a/x", null, JournalState.Intent, 1_001);
        _stores.ApplyOne(store, 1_100, new AppendJournal("a", "node1", 1, [intent]));
        // node1 died mid-call; node2's attempt sends it again and records the result.
        _stores.ApplyOne(store, 5_000, new RescueExpiredLeases());
        _stores.Claim(store, 10_000_000, "node2");
        var done = intent with { State = JournalState.Done, Response = [(byte)'{', (byte)'}'] };

        var completed = _stores.ApplyOne(store, 10_000_100, new AppendJournal("a", "node2", 2, [done]));
        var repeated = _stores.ApplyOne(store, 10_000_200, new AppendJournal("a", "node2", 2, [done]));
        var stale = _stores.ApplyOne(store, 10_000_300, new AppendJournal("a", "node1", 1, [done]));

        Assert.Equal(new CountResult(1), completed);
        Assert.Equal(new CountResult(0), repeated);
        Assert.IsType<Rejected>(stale);
        var entry = Assert.Single(store.GetJournal("a"));
        Assert.Equal((JournalState.Done, 2, 1_001L), (entry.State, entry.Attempt, entry.At));
        Assert.Equal(done.Response, entry.Response);
    }

    [Fact]
    public void AnAppendPastTheEntryLimitFailsTheJobForGood()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a", maxAttempts: 5));
        _stores.Claim(store, 1_000, "node1");
        var entries = Enumerable.Range(1, Schema.JournalMaxEntries + 1).Select(Entry).ToArray();

        var result = _stores.ApplyOne(store, 2_000, new AppendJournal("a", "node1", 1, entries));
        var finish = _stores.ApplyOne(store, 2_000, new FinishJobs("node1", [new JobOutcome("a", 1, OutcomeKind.Completed, "1")]));

        var job = Assert.IsType<JobChange>(result).Job!;
        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal("journal limit (10000 entries) reached for job a", job.Error);
        Assert.Equal(new CountResult(0), finish); // the run's outcome comes too late
        Assert.Equal(Schema.JournalMaxEntries, store.GetJournal("a").Count);
    }

    [Fact]
    public void AnEntryOverOneMiBFailsTheJobForGood()
    {
        var store = _stores.Open();
        _stores.Submit(store, 1_000, TempStores.NewJob("a", maxAttempts: 5));
        _stores.Claim(store, 1_000, "node1");
        var big = Entry(1) with { Response = new byte[Schema.JournalMaxEntryBytes + 1] };

        var result = _stores.ApplyOne(store, 2_000, new AppendJournal("a", "node1", 1, [big]));

        Assert.StartsWith("journal limit", Assert.IsType<JobChange>(result).Job!.Error, StringComparison.Ordinal);
        Assert.Equal(JobStatus.Failed, store.GetJob("a")!.Status);
        Assert.Empty(store.GetJournal("a"));
    }

    private static AppendJournal Append(string jobId, string node, int attempt, params int[] seqs) =>
        new(jobId, node, attempt, [.. seqs.Select(Entry)]);

    private static JournalEntry Entry(int seq) => seq % 2 == 0
        ? new JournalEntry(seq, "random_bytes", $"hash-random-{seq}", "random_bytes 4", Response(seq), JournalState.Done, 1_000 + seq)
        : new JournalEntry(seq, "now_ms", $"hash-now-{seq}", "now_ms", Response(seq), JournalState.Done, 1_000 + seq);

    private static byte[] Response(int seq) => [(byte)seq, 1, 2, 3];

    // Records compare byte arrays by reference; the journal's responses must compare by content.
    private sealed class JournalEntryComparer : IEqualityComparer<JournalEntry>
    {
        public static readonly JournalEntryComparer Instance = new();

        public bool Equals(JournalEntry? x, JournalEntry? y) =>
            x is not null && y is not null && x with { Response = null } == y with { Response = null } && (x.Response ?? []).SequenceEqual(y.Response ?? []);

        public int GetHashCode(JournalEntry obj) => obj.Seq;
    }
}
