using System.Globalization;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace Flotilla.Node.Cluster;

/// <summary>
/// A snapshot on disk: <c>snapshots/{index}-{term}</c>, holding the store's database file as of
/// that index (the layout DotNext's SimpleStateMachine used, so older data folders still open).
/// The log sends it to a member that is too far behind.
/// </summary>
internal sealed class SnapshotFile : ISnapshot
{
    private SnapshotFile(FileInfo file, long index, long term)
    {
        File = file;
        Index = index;
        Term = term;
    }

    public FileInfo File { get; }

    public long Index { get; }

    public long Term { get; }

    long? IDataTransferObject.Length => File.Length;

    bool IDataTransferObject.IsReusable => true;

    /// <summary>Every snapshot in <paramref name="folder"/> (names that do not parse are not snapshots).</summary>
    public static IEnumerable<SnapshotFile> All(DirectoryInfo folder) =>
        folder.Exists
            ? folder.EnumerateFiles("*-*", SearchOption.TopDirectoryOnly).Select(Parse).OfType<SnapshotFile>()
            : [];

    public static SnapshotFile? Newest(DirectoryInfo folder) => All(folder).MaxBy(s => s.Index);

    /// <summary>Moves a finished, flushed file into <paramref name="folder"/> as the snapshot of <paramref name="index"/>.</summary>
    public static SnapshotFile Place(DirectoryInfo folder, string finishedFile, long index, long term)
    {
        folder.Create();
        var target = new FileInfo(Path.Combine(folder.FullName, string.Create(CultureInfo.InvariantCulture, $"{index}-{term}")));
        System.IO.File.Move(finishedFile, target.FullName, overwrite: true);
        DirectoryFlush.Flush(folder); // the rename itself on disk before the log is compacted behind it
        target.Refresh();
        return new SnapshotFile(target, index, term);
    }

    async ValueTask IDataTransferObject.WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
    {
        var stream = new FileStream(File.FullName, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (stream.ConfigureAwait(false))
        {
            await writer.CopyFromAsync(stream, null, token).ConfigureAwait(false);
        }
    }

    private static SnapshotFile? Parse(FileInfo file) =>
        file.Name.Split('-') is [var index, var term]
        && long.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out var i)
        && long.TryParse(term, NumberStyles.None, CultureInfo.InvariantCulture, out var t)
            ? new SnapshotFile(file, i, t)
            : null;
}
