namespace Flotilla.Node.Workflows.Durable;

/// <summary>
/// Stops a durable guest that parked in a long sleep (<see cref="RunJournal.ParkedUntil"/>): not a
/// failure; the worker reports the job parked until <paramref name="wakeAt"/>.
/// </summary>
internal sealed class GuestParkedException(long wakeAt)
    : Exception($"parked until {DateTimeOffset.FromUnixTimeMilliseconds(wakeAt):O}")
{
    public long WakeAt { get; } = wakeAt;
}
