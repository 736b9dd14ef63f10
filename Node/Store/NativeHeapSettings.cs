using System.Runtime.InteropServices;

namespace Flotilla.Node.Store;

/// <summary>
/// glibc's allocator settings for the node's native heap, which is mostly SQLite's page cache.
/// By default glibc hands an arena's free top back to the kernel once it passes 128 KiB, and
/// SQLite frees and takes back pages all the time: on a follower applying batches, page faults,
/// zeroed pages and TLB shootdowns from that give-and-take were ~15 % of its CPU. An arena now
/// keeps up to 16 MiB of free top (never more than it once used). Setting one threshold stops
/// glibc from moving the other, so both are set: blocks of 1 MiB and more (a module's bytes)
/// are mapped on their own and returned whole when freed, not kept in an arena.
/// glibc also opens an arena per contending thread, up to eight per core, and each keeps its
/// own free top: with a million jobs stored, 35-47 MiB of a node's RSS sat in arenas. Two
/// arenas for a node that shares two cores: together with the smaller gen0 budget (Node.csproj),
/// 5-11 MiB less at 20,000 jobs and no more CPU per job in interleaved benchmark runs.
/// </summary>
internal static class NativeHeapSettings
{
    private const int TrimThresholdOption = -1;  // M_TRIM_THRESHOLD
    private const int MmapThresholdOption = -3;  // M_MMAP_THRESHOLD
    private const int ArenaMaxOption = -8;       // M_ARENA_MAX
    private const int ArenaMax = 2;
    private const int TrimThreshold = 16 * 1024 * 1024;
    private const int MmapThreshold = 1024 * 1024;

    /// <summary>True when glibc took the settings; elsewhere (musl, macOS, Windows) nothing changes.</summary>
    public static bool Apply()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return Mallopt(TrimThresholdOption, TrimThreshold) == 1
                & Mallopt(MmapThresholdOption, MmapThreshold) == 1
                & Mallopt(ArenaMaxOption, ArenaMax) == 1;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int option, int value);
}
