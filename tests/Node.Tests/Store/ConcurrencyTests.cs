using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

public sealed class ConcurrencyTests : IDisposable
{
    private readonly TempStores _stores = new();

    public void Dispose() => _stores.Dispose();

    [Fact]
    public async Task ReadsRunWhileApplyWritesAndSeeWholeBatches()
    {
        var store = _stores.Open();
        const int batches = 100;
        const int jobsPerBatch = 5;

        var writer = Task.Run(() =>
        {
            for (var b = 0; b < batches; b++)
            {
                _stores.Submit(store, b, [.. Enumerable.Range(0, jobsPerBatch).Select(i => TempStores.NewJob($"b{b:D3}-{i}"))]);
            }
        });

        var observed = new List<long>();
        while (!writer.IsCompleted)
        {
            // Each read is one committed state: never part of a batch.
            var total = store.CountByStatus().Values.Sum();
            Assert.Equal(0, total % jobsPerBatch);
            observed.Add(total);
            var page = store.ListJobs(new JobQuery(Limit: 10));
            Assert.Equal(page.OrderBy(j => j.JobId, StringComparer.Ordinal), page);
        }

        await writer.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(batches * jobsPerBatch, store.CountByStatus()[JobStatus.Pending]);
        Assert.Equal(observed.Order(), observed);
    }
}
