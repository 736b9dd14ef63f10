using System.Security.Cryptography;
using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

/// <summary>A fixed log of mixed batches, as a leader would have proposed them.</summary>
internal static class ReplicatedLog
{
    private static readonly byte[] _echoModule = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

    public static IReadOnlyList<CommandBatch> Batches { get; } =
    [
        new(Guid.Empty, 1_000,
        [
            new RegisterWorkflow("echo", Convert.ToHexStringLower(SHA256.HashData(_echoModule)), _echoModule),
            new SubmitJobs([.. Enumerable.Range(0, 20).Select(i => TempStores.NewJob($"job-{i:D2}", priority: i % 3, runAt: 1_000 + (i * 10)))]),
        ]),
        new(Guid.Empty, 1_500,
        [
            new ClaimJobs("node1", 4, 10_000),
            new ClaimJobs("node2", 4, 10_000, ["default"]),
            new SubmitJobs([TempStores.NewJob("bad", maxAttempts: 0)]),
            new SubmitJobs([TempStores.NewJob("keyed", idempotencyKey: "k"), TempStores.NewJob("keyed-again", idempotencyKey: "k")]),
        ]),
        new(Guid.Empty, 2_000,
        [
            new CompleteJob("job-02", "node1", 1, "\"ok\""),
            new FailJob("job-05", "node1", 1, "boom"),
            new CancelJob("job-19"),
            new RenewLeases("node2", [new JobAttempt("job-08", 1)], 60_000),
        ]),
        new(Guid.Empty, 20_000,
        [
            new RescueExpiredLeases(),
            new ClaimJobs("node3", 6, 10_000),
            new CompleteJob("job-02", "node2", 1, "fenced"),
        ]),
    ];

    public static void ApplyAll(TempStores stores, JobStore store)
    {
        foreach (var batch in Batches)
        {
            stores.Apply(store, batch.Now, [.. batch.Commands]);
        }
    }
}
