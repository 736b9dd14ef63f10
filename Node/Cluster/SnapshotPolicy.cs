namespace Flotilla.Node.Cluster;

/// <summary>
/// When a snapshot is due. Each snapshot copies the whole database (beside apply), so a rule
/// in log bytes alone makes the copying grow with the store: at a fixed 64 MiB a 520 MiB store
/// (a million jobs) copied ~8 bytes per log byte, every node at once for 5 s out of every 13 at
/// full speed, and took 18 % of the cluster's throughput. Waiting also for half the store's size
/// bounds it at ~2 bytes per log byte. The longer log costs disk, not memory: the mapped chunks
/// behind the one being written leave the resident set (<see cref="MappedLogTrimmer"/>).
/// </summary>
/// <param name="Entries">Due after this many entries (<c>Cluster:SnapshotEvery</c>), whatever their size.</param>
/// <param name="Bytes">...or once the entries hold this many bytes (<c>Cluster:SnapshotBytes</c>) and half the store's size.</param>
internal readonly record struct SnapshotPolicy(long Entries, long Bytes)
{
    /// <param name="entriesSince">Entries applied since the last snapshot.</param>
    /// <param name="bytesSince">Their size in the log.</param>
    /// <param name="storeBytes">The last snapshot's size (the store's, near enough); 0 before the first.</param>
    public bool IsDue(long entriesSince, long bytesSince, long storeBytes) =>
        entriesSince >= Entries || (bytesSince >= Bytes && bytesSince >= storeBytes / 2);
}
