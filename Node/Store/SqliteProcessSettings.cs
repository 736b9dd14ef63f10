using SQLitePCL;

namespace Flotilla.Node.Store;

/// <summary>
/// Process-wide SQLite settings, applied once before the first connection opens. With memory
/// statistics on (the default), every allocation inside SQLite takes a global mutex; in the
/// serialized threading mode every call takes its connection's mutex too. The store never
/// shares a connection between threads at once (one writer under a lock, pooled readers), so
/// multi-thread mode is enough, and the statistics are never read.
/// </summary>
internal static class SqliteProcessSettings
{
    private const int ConfigMultiThread = 2;  // SQLITE_CONFIG_MULTITHREAD
    private const int ConfigMemStatus = 9;    // SQLITE_CONFIG_MEMSTATUS

    private static readonly Lazy<bool> Applied = new(Apply);

    /// <summary>True when the settings took effect (false if SQLite was already in use, which only costs speed).</summary>
    public static bool EnsureApplied() => Applied.Value;

    private static bool Apply()
    {
        NativeHeapSettings.Apply();
        Batteries_V2.Init();

        // sqlite3_config is only allowed while SQLite is not initialised; shutdown refuses
        // (SQLITE_BUSY) if a connection is open, and then nothing changes.
        if (raw.sqlite3_shutdown() != raw.SQLITE_OK)
        {
            return false;
        }

        var ok = raw.sqlite3_config(ConfigMultiThread) == raw.SQLITE_OK
            & raw.sqlite3_config(ConfigMemStatus, 0) == raw.SQLITE_OK;
        return raw.sqlite3_initialize() == raw.SQLITE_OK && ok;
    }
}
