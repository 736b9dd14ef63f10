using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Flotilla.Node.Store;

// Snapshots (for log compaction and catching up a node) and the replica checksum.
internal sealed partial class JobStore
{
    /// <summary>Writes a consistent copy of the database to <paramref name="path"/>.</summary>
    public void WriteSnapshot(string path)
    {
        using var state = PinState();
        state.CopyTo(path);
    }

    /// <summary>
    /// Pins the state as applied right now: a read transaction opened here keeps seeing exactly
    /// this state (SQLite's WAL mode), however many entries are applied while it is copied.
    /// Cheap (one read), so a snapshot costs the applier this call and not the copy.
    /// </summary>
    public PinnedState PinState()
    {
        var connection = OpenReader();
        try
        {
            // A deferred transaction starts reading, and so pins its view, at its first read.
            var transaction = connection.BeginTransaction(deferred: true);
            return new PinnedState(connection, transaction, ReadAppliedIndex(connection, transaction));
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Replaces the whole state with the snapshot at <paramref name="path"/> if it is newer than ours.</summary>
    /// <remarks>
    /// Uses the online backup API into the open writer connection instead of swapping files, so
    /// readers holding connections keep working and simply see the new state on their next
    /// query. Page sizes of snapshot and database must match (both are SQLite's default).
    /// </remarks>
    /// <returns>false, keeping our state, if the snapshot's applied index is not above ours.</returns>
    public bool RestoreSnapshot(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException("Snapshot not found.", path);
        }

        var source = new SqliteConnectionStringBuilder
        {
            DataSource = Path.GetFullPath(path),
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString();

        using var snapshot = new SqliteConnection(source);
        snapshot.Open();
        long snapshotIndex;
        try
        {
            snapshotIndex = ReadAppliedIndex(snapshot);
        }
        catch (SqliteException e)
        {
            throw new InvalidDataException($"'{path}' is not a Flotilla store snapshot.", e);
        }

        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (snapshotIndex <= _appliedIndex)
            {
                return false;
            }

            ClearStatements();
            snapshot.BackupDatabase(_writer);

            // A snapshot of an older build may lack newer tables or indexes.
            CreateSchema();
            Interlocked.Increment(ref _workflowsVersion);
            _heldStale = true;
            Volatile.Write(ref _appliedIndex, ReadAppliedIndex(_writer));
            return true;
        }
    }

    /// <summary>SHA-256 over every replicated table in a fixed order: equal on nodes that applied the same log.</summary>
    /// <remarks>
    /// Canonical encoding: per table its name, then per row per column a storage-class tag and
    /// the value (integers as 8 bytes big-endian, text as UTF-8 and blobs length-prefixed), so
    /// no two different tables can encode to the same bytes. Read in one transaction, so the
    /// tables are of the same applied index. Rowids are not part of it: they are not replicated
    /// state (VACUUM INTO may renumber them).
    /// </remarks>
    public string Checksum()
    {
        using var connection = OpenReader();
        using var transaction = connection.BeginTransaction(deferred: true);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> scratch = stackalloc byte[sizeof(long) + 1];
        foreach (var (table, query) in Schema.ChecksumTables)
        {
            AppendBytes(hash, (byte)'T', Encoding.UTF8.GetBytes(table));
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = query;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                hash.AppendData("R"u8);
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    switch (reader.GetValue(i))
                    {
                        case DBNull:
                            hash.AppendData("N"u8);
                            break;
                        case long integer:
                            scratch[0] = (byte)'I';
                            BinaryPrimitives.WriteInt64BigEndian(scratch[1..], integer);
                            hash.AppendData(scratch);
                            break;
                        case string text:
                            AppendBytes(hash, (byte)'S', Encoding.UTF8.GetBytes(text));
                            break;
                        case byte[] blob:
                            AppendBytes(hash, (byte)'B', blob);
                            break;
                        case double real:
                            scratch[0] = (byte)'D';
                            BinaryPrimitives.WriteDoubleBigEndian(scratch[1..], real);
                            hash.AppendData(scratch);
                            break;
                        case var other:
                            throw new InvalidDataException($"Unexpected value type {other.GetType()} in {table}.");
                    }
                }
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void AppendBytes(IncrementalHash hash, byte tag, byte[] bytes)
    {
        Span<byte> header = stackalloc byte[1 + sizeof(long)];
        header[0] = tag;
        BinaryPrimitives.WriteInt64BigEndian(header[1..], bytes.LongLength);
        hash.AppendData(header);
        hash.AppendData(bytes);
    }
}
