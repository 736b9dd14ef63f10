using System.Globalization;

namespace Flotilla.Benchmark;

/// <summary>CPU time and resident memory of other processes, read from /proc (Linux).</summary>
internal static class ProcessStats
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    public static TimeSpan CpuTime(IEnumerable<int> pids) =>
        TimeSpan.FromSeconds(pids.Sum(pid =>
        {
            // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
        }));

    public static long RssBytes(int pid) => StatusBytes(pid, "VmRSS:");

    /// <summary>
    /// The resident memory that is the process's own, not mapped files: heaps and stacks
    /// (anonymous) and the JIT's code, which .NET keeps in a memfd mapped twice (W^X), so the
    /// kernel counts it as shared memory. With <see cref="RssFileBytes"/> it adds up to the RSS.
    /// </summary>
    public static long RssOwnBytes(int pid) => StatusBytes(pid, "RssAnon:") + StatusBytes(pid, "RssShmem:");

    /// <summary>The resident pages of mapped files (the Raft log's chunks, the runtime's images).</summary>
    public static long RssFileBytes(int pid) => StatusBytes(pid, "RssFile:");

    private static long StatusBytes(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
