using System.Globalization;
using System.Runtime.InteropServices;
using Flotilla.Node.Maintenance;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Cluster;

/// <summary>
/// DotNext's write-ahead log writes through memory-mapped chunk files and keeps every chunk
/// mapped until a snapshot lets it delete them, so every page written since the last snapshot
/// stays in the node's RSS: up to <c>Cluster:SnapshotBytes</c> (64 MiB) of log on top of the
/// process's own memory, a saw-tooth that took a node with a million jobs past 300 MiB. Those
/// pages are on disk already (flushed before any acknowledgement) and are read again only by a
/// lagging follower's catch-up. So every few seconds the chunks behind the one being written
/// (and behind the one that was being written a round ago, which apply may still be reading)
/// are handed back to the kernel with <c>madvise(MADV_PAGEOUT)</c>; a later read faults them
/// in from the file. PAGEOUT, not DONTNEED: it never discards data, so even a range DotNext
/// unmapped (and the address space reused) since <c>/proc/self/maps</c> was read is safe.
/// Linux only (5.4 and later); elsewhere, or when the kernel refuses, it does nothing.
/// </summary>
internal sealed partial class MappedLogTrimmer(
    IOptions<ClusterOptions> options, TimeProvider time, ILogger<MappedLogTrimmer> logger)
    : PeriodicMaintenance(time, logger)
{
    private const int MadvPageout = 21;
    private const int EInval = 22;
    private const string MapsFile = "/proc/self/maps";

    private readonly string _logDirectory = options.Value.LogDirectory() + Path.DirectorySeparatorChar;
    private readonly Dictionary<string, uint> _newestLastRound = new(StringComparer.Ordinal);
    private bool _unsupported;

    protected override TimeSpan Every => TimeSpan.FromSeconds(2);

    public override Task RunOnceAsync(CancellationToken token)
    {
        if (!OperatingSystem.IsLinux() || _unsupported)
        {
            return Task.CompletedTask;
        }

        var chunks = MappedChunks(File.ReadLines(MapsFile), _logDirectory);
        var trimmed = 0L;
        foreach (var folder in chunks.GroupBy(c => c.Folder, StringComparer.Ordinal))
        {
            var newest = folder.Max(c => c.Number);
            var keepFrom = _newestLastRound.TryGetValue(folder.Key, out var before) ? Math.Min(before, newest) : newest;
            _newestLastRound[folder.Key] = newest;
            foreach (var chunk in folder.Where(c => c.Number < keepFrom))
            {
                token.ThrowIfCancellationRequested();
                if (Madvise(chunk.Start, chunk.Length, MadvPageout) == 0)
                {
                    trimmed += (long)chunk.Length;
                }
                else if (Marshal.GetLastPInvokeError() == EInval)
                {
                    // A kernel before 5.4 does not know the advice; any other refusal (ENOMEM: a
                    // chunk DotNext unmapped since the maps were read) concerns that chunk alone.
                    _unsupported = true;
                    LogUnsupported(EInval);
                    return Task.CompletedTask;
                }
            }
        }

        if (trimmed > 0)
        {
            LogTrimmed(trimmed / (1024 * 1024));
        }

        return Task.CompletedTask;
    }

    /// <summary>The log's chunk files mapped in this process, from lines of <c>/proc/self/maps</c>.</summary>
    internal static List<MappedChunk> MappedChunks(IEnumerable<string> mapsLines, string logDirectory)
    {
        var chunks = new List<MappedChunk>();
        foreach (var line in mapsLines)
        {
            // "start-end perms offset dev inode path"; the path is the rest of the line.
            var pathAt = line.IndexOf(logDirectory, StringComparison.Ordinal);
            if (pathAt < 0 || line.EndsWith(" (deleted)", StringComparison.Ordinal))
            {
                continue;
            }

            var path = line[pathAt..];
            if (!TryParseRange(line, out var start, out var end)
                || !uint.TryParse(Path.GetFileName(path), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                continue;
            }

            chunks.Add(new MappedChunk(Path.GetDirectoryName(path)!, number, (nint)start, (nuint)(end - start)));
        }

        return chunks;
    }

    /// <summary>The address range that starts a <c>/proc/self/maps</c> (or <c>smaps</c>) mapping line: "start-end ...".</summary>
    internal static bool TryParseRange(string line, out ulong start, out ulong end)
    {
        start = end = 0;
        var dash = line.IndexOf('-', StringComparison.Ordinal);
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        return dash > 0 && space > dash
            && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out start)
            && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out end);
    }

    internal readonly record struct MappedChunk(string Folder, uint Number, nint Start, nuint Length);

    [DllImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static extern int Madvise(nint address, nuint length, int advice);

    [LoggerMessage(EventId = 1311, Level = LogLevel.Debug, Message = "Handed {MiB} MiB of mapped log chunks behind the written one back to the kernel")]
    private partial void LogTrimmed(long miB);

    [LoggerMessage(EventId = 1312, Level = LogLevel.Information, Message = "The kernel refused madvise(MADV_PAGEOUT) (errno {Errno}): the log's mapped chunks stay resident until a snapshot")]
    private partial void LogUnsupported(int errno);
}
