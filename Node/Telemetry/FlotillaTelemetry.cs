using System.Diagnostics;
using System.Diagnostics.Metrics;
using Flotilla.Node.Store;

namespace Flotilla.Node.Telemetry;

/// <summary>
/// Flotilla's own spans and instruments, under the name "Flotilla" that ServiceDefaults
/// exports: every claim and execution is a span; counters and histograms for the queue.
/// </summary>
internal sealed class FlotillaTelemetry : IDisposable
{
    public const string Name = "Flotilla";

    private readonly Meter _meter;

    public FlotillaTelemetry(IMeterFactory meters, JobStore store)
    {
        _meter = meters.Create(Name);
        Submitted = _meter.CreateCounter<long>("flotilla.jobs.submitted", "{job}", "Jobs accepted by this node's HTTP routes.");
        Claimed = _meter.CreateCounter<long>("flotilla.jobs.claimed", "{job}", "Jobs this node's worker won in a claim.");
        Completed = _meter.CreateCounter<long>("flotilla.jobs.completed", "{job}", "Jobs this node ran to success.");
        Failed = _meter.CreateCounter<long>("flotilla.jobs.failed", "{attempt}", "Attempts this node ran that failed.");
        ClaimToStart = _meter.CreateHistogram<double>("flotilla.jobs.claim_to_start", "ms", "From the claim's commit to the start of execution.");
        PickupLatency = _meter.CreateHistogram<double>("flotilla.jobs.pickup_latency", "ms", "From the time a job became due (run_at) to the start of execution.");
        RunTime = _meter.CreateHistogram<double>("flotilla.jobs.run_time", "ms", "Workflow execution time.");
        _meter.CreateObservableGauge(
            "flotilla.queue.depth",
            () => store.CountByStatus().Select(kv => new Measurement<long>(kv.Value, new KeyValuePair<string, object?>("status", kv.Key.ToString().ToLowerInvariant()))),
            "{job}",
            "Jobs by status in this node's copy of the queue.");
    }

    public static ActivitySource Source { get; } = new(Name);

    public Counter<long> Submitted { get; }

    public Counter<long> Claimed { get; }

    public Counter<long> Completed { get; }

    public Counter<long> Failed { get; }

    public Histogram<double> ClaimToStart { get; }

    public Histogram<double> PickupLatency { get; }

    public Histogram<double> RunTime { get; }

    public void Dispose() => _meter.Dispose();
}
