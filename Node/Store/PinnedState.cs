using Microsoft.Data.Sqlite;

namespace Flotilla.Node.Store;

/// <summary>
/// The store's state at one applied index, held by an open read transaction (<see cref="JobStore.PinState"/>),
/// to be copied into a snapshot while apply goes on. Dispose it soon: while it is open the
/// SQLite WAL cannot be checkpointed past it.
/// </summary>
internal sealed class PinnedState(SqliteConnection connection, SqliteTransaction transaction, long appliedIndex) : IDisposable
{
    /// <summary>The applied index the pinned state holds (its meta.applied_index).</summary>
    public long AppliedIndex { get; } = appliedIndex;

    /// <summary>
    /// Writes the pinned state to <paramref name="path"/> as a self-contained database file
    /// (rollback journal mode, so it opens read-only without -wal and -shm beside it). It is
    /// written beside the target and moved over it: a crash never leaves half a snapshot there.
    /// Not flushed to disk: a caller that needs it durable flushes the file (JobStateMachine does).
    /// </summary>
    public void CopyTo(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var target = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temporary = target + ".partial";
        File.Delete(temporary);

        var destination = new SqliteConnectionStringBuilder { DataSource = temporary, Pooling = false }.ToString();
        using (var copy = new SqliteConnection(destination))
        {
            copy.Open();

            // No journal and no syncs while the copy is written: it is a new file beside the
            // target, worthless until moved there, and its caller flushes it to disk before it
            // counts (a rollback journal here was written and deleted for nothing, per copy).
            using (var fast = copy.CreateCommand())
            {
                fast.CommandText = "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;";
                fast.ExecuteNonQuery();
            }

            // One backup step inside the pinned read transaction: the copy is of exactly the
            // pinned state, and writes by the applier meanwhile do not restart it.
            connection.BackupDatabase(copy);
            using var mode = copy.CreateCommand();
            mode.CommandText = "PRAGMA journal_mode = DELETE;";
            mode.ExecuteNonQuery();
        }

        File.Move(temporary, target, overwrite: true);
    }

    public void Dispose()
    {
        transaction.Dispose();
        connection.Dispose();
    }
}
