namespace Flotilla.Node.Store;

// The durable-workflow journal's SQL: the host calls of a job's runs, in order, so a later
// attempt (a retry, or another node after a lease rescue) can be answered from them.
internal static partial class Schema
{
    /// <summary>The most entries one job's journal may hold; an append past it fails the job for good.</summary>
    public const int JournalMaxEntries = 10_000;

    /// <summary>The most bytes (requests and responses) one job's journal may hold; an append past it fails the job for good.</summary>
    public const long JournalMaxBytes = 64L * 1024 * 1024;

    /// <summary>The largest response one entry may hold; a larger one fails the job for good (the host answers -2 long before).</summary>
    public const int JournalMaxEntryBytes = 1024 * 1024;

    // A foreign key with ON DELETE CASCADE deletes a job's journal with the job (retention
    // purge included) without every delete path having to know about journals. The primary key
    // (job_id, seq) is also the index the cascade and the fence's max(seq) use.
    public const string JournalCreate = """

        CREATE TABLE IF NOT EXISTS job_journal (
            job_id       TEXT    NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
            seq          INTEGER NOT NULL,
            kind         TEXT    NOT NULL,
            request_hash TEXT    NOT NULL,
            request      TEXT    NOT NULL,
            response     BLOB,
            state        TEXT    NOT NULL,
            at           INTEGER NOT NULL,
            attempt      INTEGER NOT NULL,
            PRIMARY KEY (job_id, seq),
            CONSTRAINT job_journal_seq_valid CHECK (seq >= 1),
            CONSTRAINT job_journal_state_valid CHECK (state IN ('done', 'intent'))
        ) STRICT, WITHOUT ROWID;
        """;

    public const string JournalColumns = "job_id, seq, kind, request_hash, request, response, state, at, attempt";

    public const string JournalChecksum = $"SELECT {JournalColumns} FROM job_journal ORDER BY job_id, seq;";

    public const string JournalMaxSeq = "SELECT coalesce(max(seq), 0) FROM job_journal WHERE job_id = $job_id;";

    public const string JournalGetHash = "SELECT request_hash, attempt, state FROM job_journal WHERE job_id = $job_id AND seq = $seq;";

    // What the journal holds so far: the limits count requests and responses.
    public const string JournalBytes = "SELECT coalesce(sum(length(request) + coalesce(length(response), 0)), 0) FROM job_journal WHERE job_id = $job_id;";

    // A side effect's intent gets its result: the attempt that learnt it (a replay may re-send).
    public const string JournalComplete = """
        UPDATE job_journal SET response = $response, state = 'done', attempt = $attempt
        WHERE job_id = $job_id AND seq = $seq AND state = 'intent';
        """;

    public const string JournalInsert = """
        INSERT INTO job_journal (job_id, seq, kind, request_hash, request, response, state, at, attempt)
        VALUES ($job_id, $seq, $kind, $request_hash, $request, $response, $state, $at, $attempt);
        """;

    public const string JournalList = $"SELECT {JournalColumns} FROM job_journal WHERE job_id = $job_id ORDER BY seq;";
}
