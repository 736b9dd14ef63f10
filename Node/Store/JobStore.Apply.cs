using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Flotilla.Node.Store;

// Deterministic apply. Everything here depends only on the database, the command and the
// batch's leader-stamped Now: no clock, no randomness, no culture-dependent formatting.
// The commands live in partial files by concern: JobStore.Submit.cs, JobStore.Assign.cs,
// JobStore.Finish.cs, JobStore.Workflows.cs.
internal sealed partial class JobStore
{
    private const int SqliteConstraint = 19;
    private const int MaxIdLength = CommandRules.MaxIdLength;

    // Prepared statements of the writer connection, reused across entries: preparing the same
    // SQL again for every command was a large share of apply's cost. Only used under _writeLock.
    private readonly Dictionary<string, SqliteCommand> _statements = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PreparedWrite> _prepared = new(StringComparer.Ordinal);

    // The transaction of the batch being applied; set only inside Apply, under _writeLock.
    private SqliteTransaction? _transaction;

    // Running jobs per worker (see AddHeld); only touched under _writeLock.
    private readonly Dictionary<string, int> _heldByNode = new(StringComparer.Ordinal);
    private bool _heldStale = true;

    // What the entry being applied did to running jobs, for the workers (see Changed).
    private List<Job>? _assigned;
    private List<RevokedJob>? _revoked;

    /// <summary>
    /// Raised after each applied entry that assigned jobs to this store's node (the local node
    /// named at construction) or took running jobs away from any node (cancelled, lease rescued).
    /// Handlers run on the applying thread: they must only hand work off.
    /// </summary>
    public event Action<JobChanges>? Changed;

    /// <summary>
    /// Applies one committed batch in one transaction, together with <paramref name="index"/>.
    /// Returns null, changing nothing, when <paramref name="index"/> is not above <see cref="AppliedIndex"/>.
    /// Never throws for bad command content: such a command yields <see cref="Rejected"/>.
    /// </summary>
    /// <remarks>
    /// After the commands, due pending jobs are assigned to live workers with free credit (see
    /// <see cref="OfferCapacity"/>), so a submit or a finished job hands out work in the same
    /// entry. An I/O or other database failure throws and rolls the whole batch back (applied
    /// index included), so the caller may apply the same entry again.
    /// </remarks>
    public IReadOnlyList<CommandResult>? Apply(long index, CommandBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        JobChanges? changes;
        List<CommandResult> results;
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (index <= _appliedIndex)
            {
                return null;
            }

            // Commands may be null when a batch was deserialized from a malformed entry.
            var commands = batch.Commands ?? [];
            try
            {
                // A savepoint per command makes a rejected command leave no trace, but it costs
                // every command a copy of each page it changes (3-7 % of apply's CPU). Nearly
                // every entry has no rejected command, so it is applied without them first; an
                // entry where a command is rejected after writing is rolled back and applied again
                // with them. Both passes end in the same state, so nodes may differ in the pass.
                results = ApplyCommands(index, batch, commands, careful: false)
                    ?? ApplyCommands(index, batch, commands, careful: true)
                    ?? throw new InvalidOperationException("A careful apply cannot fall back.");
                var (assigned, revoked) = (_assigned!, _revoked!);
                changes = assigned.Count > 0 || revoked.Count > 0 ? new JobChanges(index, assigned, revoked) : null;
            }
            finally
            {
                _transaction = null;
                _assigned = null;
                _revoked = null;
            }

            Volatile.Write(ref _appliedIndex, index);
        }

        if (changes is not null)
        {
            Changed?.Invoke(changes);
        }

        return results;
    }

    // One pass over the entry in one transaction. Returns null, with everything rolled back,
    // when a pass without savepoints meets a command it cannot leave out (see ApplyOne).
    private List<CommandResult>? ApplyCommands(long index, CommandBatch batch, IReadOnlyList<Command> commands, bool careful)
    {
        var results = new List<CommandResult>(commands.Count);
        _assigned = [];
        _revoked = [];
        using var transaction = _writer.BeginTransaction();
        _transaction = transaction;
        try
        {
            if (_heldStale)
            {
                RecountHeld();
                _heldStale = false;
            }

            foreach (var command in commands)
            {
                if (ApplyOne(command, batch.Now, careful) is not { } result)
                {
                    // The transaction rolls back on dispose: so must the held counts.
                    _heldStale = true;
                    return null;
                }

                results.Add(result);
            }

            if (commands.Count > 0)
            {
                AssignDueJobs(batch.Now, batch.Leader);
            }

            Write(Schema.SetAppliedIndex).With("$index", index).ExecuteNonQuery();
            transaction.Commit();
            return results;
        }
        catch
        {
            // The transaction rolls back: so must the held counts (recounted by the next entry).
            _heldStale = true;
            throw;
        }
    }

    // Careful: a savepoint per command, so a rejected command leaves no trace and its
    // neighbours still apply. Through the prepared-statement cache: SqliteTransaction.Save/Release
    // prepare their SQL anew each time, and an entry of single submits holds a command per job.
    // Not careful: no savepoint; a command rejected before it changed a row is left out as the
    // careful pass would, and null (start again carefully) when it had changed rows already.
    private CommandResult? ApplyOne(Command? command, long now, bool careful)
    {
        if (careful)
        {
            Write(Schema.SavepointCommand).ExecuteNonQuery();
        }

        var assigned = _assigned!.Count;
        var revoked = _revoked!.Count;
        var changesBefore = raw.sqlite3_total_changes(_writer.Handle);
        CommandResult result;
        try
        {
            result = Execute(command, now);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteConstraint)
        {
            // Validation should catch bad content first; the table constraints are the backstop.
            if (!careful)
            {
                return null;
            }

            result = new Rejected($"constraint violated: {e.Message}");
        }

        if (result is Rejected)
        {
            if (careful)
            {
                Write(Schema.RollbackToCommand).ExecuteNonQuery();
            }
            else if (raw.sqlite3_total_changes(_writer.Handle) != changesBefore)
            {
                return null;
            }

            _assigned.RemoveRange(assigned, _assigned.Count - assigned);
            _revoked.RemoveRange(revoked, _revoked.Count - revoked);
            RecountHeld();
        }

        if (careful)
        {
            Write(Schema.ReleaseCommand).ExecuteNonQuery();
        }

        return result;
    }

    private CommandResult Execute(Command? command, long now) => command switch
    {
        SubmitJobs c => Submit(c, now),
        OfferCapacity c => Offer(c, now),
        FinishJobs c => Finish(c, now),
        AssignDue => new CountResult(0), // the assignment after every entry does the work
        RenewLeases c => Renew(c, now),
        CancelJob c => Cancel(c, now),
        RescueExpiredLeases => Rescue(now),
        PurgeFinishedJobs c => Purge(c, now),
        AppendJournal c => AppendToJournal(c, now),
        PurgeModules => PurgeUnusedModules(),
        RegisterWorkflow c => Register(c, now),
        ClaimJobs c => Claim(c, now),
        CompleteJob c => Complete(c, now),
        FailJob c => Fail(c, now),
        null => new Rejected("null command"),
        _ => new Rejected($"unknown command {command.GetType().Name}"),
    };

    private Job? CurrentJob(string jobId) => JobRow.ReadSingle(Write(Schema.JobGetById).With("$job_id", jobId));

    /// <summary>The cached, prepared writer statement for <paramref name="sql"/>, bound to the current transaction, parameters cleared.</summary>
    private SqliteCommand Write(string sql)
    {
        if (!_statements.TryGetValue(sql, out var command))
        {
            command = _writer.CreateCommand();
            command.CommandText = sql;
            _statements[sql] = command;
        }

        command.Transaction = _transaction;
        command.Parameters.Clear();
        return command;
    }

    /// <summary>The writer statement for <paramref name="sql"/> on SQLite's C API (see <see cref="PreparedWrite"/>), prepared on first use.</summary>
    private PreparedWrite Prepared(string sql)
    {
        if (!_prepared.TryGetValue(sql, out var statement))
        {
            statement = new PreparedWrite(_writer, sql);
            _prepared[sql] = statement;
        }

        return statement;
    }

    private void ClearStatements()
    {
        foreach (var statement in _statements.Values)
        {
            statement.Dispose();
        }

        _statements.Clear();
        foreach (var statement in _prepared.Values)
        {
            statement.Dispose();
        }

        _prepared.Clear();
    }
}

/// <summary>A running job taken away from its node by an entry: cancelled, or its lease rescued.</summary>
internal sealed record RevokedJob(string JobId, string Node, int Attempt);

/// <summary>What one applied entry did to running jobs: new assignments (as stored now) and revocations.</summary>
internal sealed record JobChanges(long Index, IReadOnlyList<Job> Assigned, IReadOnlyList<RevokedJob> Revoked);
