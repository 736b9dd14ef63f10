using System.Runtime.InteropServices;

namespace Flotilla.Node.Store;

/// <summary>
/// glibc's allocator settings for the node's native heap, which is mostly SQLite's page cache.
/// By default glibc hands an arena's free top back to the kernel once it passes 128 KiB, and
/// SQLite frees and takes back pages all the time: on a follower applying batches, page faults,
/// zeroed pages and TLB shootdowns from that give-and-take were ~15 % of its CPU. A higher trim
/// threshold keeps what an arena has already used (it never grows past the heap's own peak).
/// Setting one threshold also stops glibc from moving the other, so both are set.
/// </summary>
internal static class NativeHeapSettings
{
    private const int TrimThresholdOption = -1;  // M_TRIM_THRESHOLD
    private const int MmapThresholdOption = -3;  // M_MMAP_THRESHOLD
    private const int TrimThreshold = 64 * 1024 * 1024;
    private const int MmapThreshold = 32 * 1024 * 1024; // glibc's own upper bound for it

    /// <summary>True when glibc took the settings; elsewhere (musl, macOS, Windows) nothing changes.</summary>
    public static bool Apply()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return Mallopt(TrimThresholdOption, TrimThreshold) == 1 & Mallopt(MmapThresholdOption, MmapThreshold) == 1;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int option, int value);
}
