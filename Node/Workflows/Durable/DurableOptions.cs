namespace Flotilla.Node.Workflows.Durable;

/// <summary>The <c>Durable:*</c> settings of durable workflows.</summary>
internal sealed class DurableOptions
{
    public const string Section = "Durable";

    /// <summary>
    /// A durable sleep at least this long parks the job: the guest stops, its slot is freed, and
    /// the job is pending until the wake-up time, then replayed on any node. Shorter sleeps wait
    /// in place (and count against the run's timeout).
    /// </summary>
    public long ParkThresholdMs { get; set; } = 5_000;
}
