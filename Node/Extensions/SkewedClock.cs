namespace Flotilla.Node.Extensions;

/// <summary>
/// A wall clock running <see cref="Offset"/> ahead of (or behind) the machine's, for tests of clock
/// skew between nodes (<c>Testing:ClockOffsetMs</c>, honoured only in the <c>Testing</c>
/// environment). Timers and the monotonic timestamp stay the system's.
/// </summary>
internal sealed class SkewedClock(TimeSpan offset) : TimeProvider
{
    public TimeSpan Offset { get; } = offset;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;
}
