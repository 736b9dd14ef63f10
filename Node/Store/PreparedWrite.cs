using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Flotilla.Node.Store;

/// <summary>
/// A writer statement run straight through SQLite's C API: prepared once, parameters bound by
/// the index found at preparation, reset after each run. For the statements apply runs once per
/// job (insert, complete): through <see cref="SqliteCommand"/> each run allocated its parameters
/// again and looked every one up by name in native code, more work than SQLite's own insert.
/// It runs on the writer's connection, so inside whatever transaction or savepoint is open there.
/// </summary>
internal sealed class PreparedWrite : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;
    private readonly string[] _names;

    public PreparedWrite(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        var rc = raw.sqlite3_prepare_v2(_db, sql, out _statement);
        SqliteException.ThrowExceptionForRC(rc, _db);
        _names = new string[raw.sqlite3_bind_parameter_count(_statement)];
        for (var i = 0; i < _names.Length; i++)
        {
            _names[i] = raw.sqlite3_bind_parameter_name(_statement, i + 1).utf8_to_string();
        }
    }

    public PreparedWrite With(string name, string? value) =>
        Bound(value is null ? raw.sqlite3_bind_null(_statement, IndexOf(name)) : raw.sqlite3_bind_text(_statement, IndexOf(name), value));

    public PreparedWrite With(string name, long value) => Bound(raw.sqlite3_bind_int64(_statement, IndexOf(name), value));

    public PreparedWrite With(string name, long? value) => value is { } v ? With(name, v) : Bound(raw.sqlite3_bind_null(_statement, IndexOf(name)));

    /// <summary>Runs the statement; returns the rows it changed. Bindings are cleared afterwards.</summary>
    public int ExecuteNonQuery()
    {
        try
        {
            var rc = raw.sqlite3_step(_statement);
            if (rc != raw.SQLITE_DONE && rc != raw.SQLITE_ROW)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            return raw.sqlite3_changes(_db);
        }
        finally
        {
            raw.sqlite3_reset(_statement);
            raw.sqlite3_clear_bindings(_statement);
        }
    }

    /// <summary>Runs a statement that returns job rows (<c>RETURNING</c> <see cref="Schema.JobColumns"/>) and reads them all.</summary>
    public List<Job> ReadJobs()
    {
        var jobs = new List<Job>();
        try
        {
            int rc;
            while ((rc = raw.sqlite3_step(_statement)) == raw.SQLITE_ROW)
            {
                jobs.Add(JobRow.Read(new StatementColumns(_statement)));
            }

            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            return jobs;
        }
        finally
        {
            raw.sqlite3_reset(_statement);
            raw.sqlite3_clear_bindings(_statement);
        }
    }

    public void Dispose() => _statement.Dispose();

    private PreparedWrite Bound(int rc)
    {
        SqliteException.ThrowExceptionForRC(rc, _db);
        return this;
    }

    // A statement has a dozen parameters at most, named by the same literals every time.
    private int IndexOf(string name)
    {
        for (var i = 0; i < _names.Length; i++)
        {
            if (string.Equals(_names[i], name, StringComparison.Ordinal))
            {
                return i + 1;
            }
        }

        throw new ArgumentException($"The statement has no parameter {name}.", nameof(name));
    }

    private readonly struct StatementColumns(sqlite3_stmt statement) : JobRow.IColumns
    {
        public string Text(int i) => raw.sqlite3_column_text(statement, i).utf8_to_string();

        public long Integer(int i) => raw.sqlite3_column_int64(statement, i);

        public bool IsNull(int i) => raw.sqlite3_column_type(statement, i) == raw.SQLITE_NULL;
    }
}
