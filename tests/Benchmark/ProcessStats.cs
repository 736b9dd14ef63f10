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

    /// <summary>The resident memory that is the process's own (heap, stacks), not mapped files.</summary>
    public static long RssAnonBytes(int pid) => StatusBytes(pid, "RssAnon:");

    /// <summary>The resident pages of mapped files (the Raft log's chunks, the runtime's images).</summary>
    public static long RssFileBytes(int pid) => StatusBytes(pid, "RssFile:");

    private static long StatusBytes(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
