using Microsoft.Data.Sqlite;

namespace Flotilla.Node.Store;

/// <summary>
/// The node's SQLite database: the only writer is <see cref="Apply"/>, called by the Raft
/// state machine with committed entries in log order. Reads open their own connections.
/// </summary>
/// <remarks>
/// One long-lived writer connection (WAL, synchronous=NORMAL, statements prepared once) is used under a lock by apply,
/// <see cref="MarkApplied"/> and <see cref="RestoreSnapshot"/>. Queries take pooled read-only
/// connections, so with WAL they read the last committed state while apply is writing.
/// The partial files split the type by concern: <c>JobStore.Apply.cs</c> (the commands),
/// <c>JobStore.Queries.cs</c>, <c>JobStore.Snapshots.cs</c> (snapshots and checksum).
/// </remarks>
internal sealed partial class JobStore : IDisposable
{
    private readonly string _databasePath;
    private readonly string _readConnectionString;
    private readonly SqliteConnection _writer;
    private readonly string? _localNode;

    // Serializes every use of _writer; apply is single-threaded by contract, but snapshot
    // restore and MarkApplied may come from other threads of the Raft machinery.
    private readonly Lock _writeLock = new();
    private long _appliedIndex;
    private bool _disposed;

    /// <param name="databasePath">The SQLite file (created if missing).</param>
    /// <param name="localNode">This node's id: jobs assigned to it are read back for <see cref="Changed"/>.</param>
    public JobStore(string databasePath, string? localNode = null)
    {
        _localNode = localNode;
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        SqliteProcessSettings.EnsureApplied();
        _databasePath = Path.GetFullPath(databasePath);
        Directory.CreateDirectory(Path.GetDirectoryName(_databasePath)!);

        // Unpooled: Dispose must really close the file (tests delete it, restarts reopen it).
        var writeConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString();
        _readConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _databasePath,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = true,
        }.ToString();

        _writer = new SqliteConnection(writeConnectionString);
        try
        {
            _writer.Open();
            CreateSchema();
            _appliedIndex = ReadAppliedIndex(_writer);
        }
        catch
        {
            _writer.Dispose();
            throw;
        }
    }

    /// <summary>Index of the last log entry applied; stored in the same transaction as its changes.</summary>
    public long AppliedIndex => Volatile.Read(ref _appliedIndex);

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath => _databasePath;

    /// <summary>Records that an entry with no commands (e.g. a membership change) was applied.</summary>
    public void MarkApplied(long index)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (index <= _appliedIndex)
            {
                return;
            }

            Write(Schema.SetAppliedIndex).With("$index", index).ExecuteNonQuery();
            Volatile.Write(ref _appliedIndex, index);
        }
    }

    public void Dispose()
    {
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;

            // Idle pooled readers keep the file open; closing them lets callers delete it.
            using (var reader = new SqliteConnection(_readConnectionString))
            {
                SqliteConnection.ClearPool(reader);
            }

            ClearStatements();
            _writer.Dispose();
        }
    }

    private void CreateSchema()
    {
        using (var pragmas = _writer.CreateCommand())
        {
            pragmas.CommandText = Schema.WriterPragmas;
            pragmas.ExecuteNonQuery();
        }

        using var transaction = _writer.BeginTransaction();
        using var create = _writer.CreateCommand();
        create.Transaction = transaction;
        foreach (var (table, column, definition) in Schema.AddedColumns)
        {
            // A database (or snapshot) of an older build: its table lacks the newer columns.
            create.CommandText = $"SELECT count(*) FROM pragma_table_info('{table}') WHERE name = '{column}';";
            create.Parameters.Clear();
            if (create.ExecuteScalar() is 0L && TableExists(create, table))
            {
                create.CommandText = $"ALTER TABLE {table} ADD COLUMN {column} {definition};";
                create.ExecuteNonQuery();
            }
        }

        create.CommandText = Schema.Create;
        create.ExecuteNonQuery();
        transaction.Commit();
    }

    private static bool TableExists(SqliteCommand command, string table)
    {
        command.CommandText = $"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '{table}';";
        return command.ExecuteScalar() is 1L;
    }

    private static long ReadAppliedIndex(SqliteConnection connection, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Schema.GetAppliedIndex;
        return command.ExecuteScalar() is long index
            ? index
            : throw new InvalidDataException("The meta table has no applied_index.");
    }

    private SqliteConnection OpenReader()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var connection = new SqliteConnection(_readConnectionString);
        connection.Open();
        return connection;
    }
}

/// <summary>A page of jobs: filters, and keyset paging by job id.</summary>
internal sealed record JobQuery(JobStatus? Status = null, string? Queue = null, int Limit = 100, string? After = null);
