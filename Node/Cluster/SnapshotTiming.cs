namespace Flotilla.Node.Cluster;

/// <summary>The last snapshot this node wrote: how long apply was held for it (pinning the state) and how long the copy took.</summary>
internal sealed record SnapshotTiming(long Index, long Bytes, double ApplyStallMs, double CopyMs);
