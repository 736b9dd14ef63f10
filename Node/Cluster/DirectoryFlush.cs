using System.Runtime.InteropServices;

namespace Flotilla.Node.Cluster;

/// <summary>
/// Flushes a folder's entries to disk. A rename is durable only once the folder that holds it
/// is flushed (POSIX); without this, a power loss after a snapshot was placed and the log
/// compacted behind it could leave the node with neither. .NET cannot open a folder as a file,
/// hence libc. Elsewhere than Linux it does nothing.
/// </summary>
internal static class DirectoryFlush
{
    private const int ReadOnly = 0; // O_RDONLY: enough to fsync a directory on Linux

    public static void Flush(DirectoryInfo folder)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = Open(folder.FullName, ReadOnly);
        if (fd < 0)
        {
            throw new IOException($"Cannot open {folder.FullName} to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Sync(fd) != 0)
            {
                throw new IOException($"Cannot flush {folder.FullName} (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int Sync(int fd);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int fd);
}
