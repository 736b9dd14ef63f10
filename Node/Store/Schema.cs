namespace Flotilla.Node.Store;

/// <summary>
/// Every SQL statement of the store, kept in one place so the schema and the statements that
/// rely on it are read (and reviewed) together.
/// </summary>
/// <remarks>
/// Status literals are written inline (not bound as parameters) wherever a partial index
/// should be used: SQLite only picks a partial index when the query's WHERE clause visibly
/// implies the index's WHERE clause. The hot statements also name their index (INDEXED BY):
/// without ANALYZE statistics the planner may prefer another index and sort every pending job
/// on each assignment.
/// </remarks>
internal static partial class Schema
{
    public const string AppliedIndexKey = "applied_index";

    // STRICT tables: a value of the wrong type is an error instead of being stored with a
    // different storage class on some node, which would break byte-identical replicas.
    // The hot indexes are partial (pending / running only), so finished jobs, which are most
    // rows over time, cost nothing in them.
    public const string Create = """
        CREATE TABLE IF NOT EXISTS jobs (
            job_id          TEXT    NOT NULL PRIMARY KEY,
            status          TEXT    NOT NULL,
            queue           TEXT    NOT NULL,
            workflow        TEXT    NOT NULL,
            payload         TEXT    NOT NULL,
            priority        INTEGER NOT NULL,
            run_at          INTEGER NOT NULL,
            attempts        INTEGER NOT NULL,
            max_attempts    INTEGER NOT NULL,
            claimed_by      TEXT,
            lease_until     INTEGER,
            completed_by    TEXT,
            created_at      INTEGER NOT NULL,
            updated_at      INTEGER NOT NULL,
            result          TEXT,
            error           TEXT,
            idempotency_key TEXT,
            trace_parent    TEXT,
            timeout_ms      INTEGER,
            started_at      INTEGER,
            parks           INTEGER NOT NULL DEFAULT 0,
            module_sha256   TEXT,
            CONSTRAINT jobs_status_valid
                CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
            CONSTRAINT jobs_attempts_valid
                CHECK (max_attempts >= 1 AND attempts >= 0),
            CONSTRAINT jobs_running_has_claim
                CHECK (status <> 'running' OR (claimed_by IS NOT NULL AND lease_until IS NOT NULL)),
            CONSTRAINT jobs_completed_has_node
                CHECK (status <> 'completed' OR completed_by IS NOT NULL)
        ) STRICT;

        CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX IF NOT EXISTS jobs_claim ON jobs (priority DESC, run_at, job_id) WHERE status = 'pending';
        CREATE INDEX IF NOT EXISTS jobs_pending_run_at ON jobs (run_at) WHERE status = 'pending';
        CREATE INDEX IF NOT EXISTS jobs_running_lease ON jobs (lease_until) WHERE status = 'running';
        CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (updated_at) WHERE status IN ('completed', 'failed', 'cancelled');
        -- No index on status alone: every status change would move an entry in it. Listing by
        -- status uses the partial indexes (pending, running), one for the rare finished states,
        -- or the primary key for completed jobs, which are most rows.
        DROP INDEX IF EXISTS jobs_status;
        CREATE INDEX IF NOT EXISTS jobs_unsuccessful ON jobs (job_id) WHERE status IN ('failed', 'cancelled');
        CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (queue, job_id);

        CREATE TABLE IF NOT EXISTS modules (
            sha256 TEXT NOT NULL PRIMARY KEY,
            bytes  BLOB NOT NULL
        ) STRICT;

        CREATE TABLE IF NOT EXISTS workflows (
            name          TEXT    NOT NULL PRIMARY KEY,
            sha256        TEXT    NOT NULL REFERENCES modules (sha256),
            registered_at INTEGER NOT NULL,
            timeout_ms    INTEGER
        ) STRICT, WITHOUT ROWID;

        -- Workers that offered capacity: due jobs are assigned to live ones with free credit.
        CREATE TABLE IF NOT EXISTS workers (
            node        TEXT    NOT NULL PRIMARY KEY,
            capacity    INTEGER NOT NULL,
            lease_ms    INTEGER NOT NULL,
            alive_until INTEGER NOT NULL,
            ready       INTEGER,
            CONSTRAINT workers_values_valid CHECK (capacity >= 0 AND lease_ms > 0)
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE IF NOT EXISTS meta (
            key   TEXT    NOT NULL PRIMARY KEY,
            value INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;

        INSERT INTO meta (key, value) VALUES ('applied_index', 0) ON CONFLICT (key) DO NOTHING;
        """ + JournalCreate;

    // synchronous=NORMAL: in WAL mode a process crash loses nothing, and an OS crash can lose
    // only the last transactions, which the Raft log (fsynced before any acknowledgement)
    // replays from meta.applied_index. The log is the durability source, not this file.
    // Columns added after the first release: (table, column, definition), added to older files.
    public static readonly IReadOnlyList<(string Table, string Column, string Definition)> AddedColumns =
    [
        ("jobs", "started_at", "INTEGER"),
        // Durable timers: how often the job parked (a park hands back its attempt, see JobPark).
        ("jobs", "parks", "INTEGER NOT NULL DEFAULT 0"),
        // Version pinning: the module the job runs, fixed at submit (null: an older job, runs the current one).
        ("jobs", "module_sha256", "TEXT"),
        // Leader first: how many a worker can hold and still start the next job at once (null: not offered).
        ("workers", "ready", "INTEGER"),
    ];

    // temp_store = MEMORY: every command runs in a savepoint, and a savepoint's journal (the
    // pages it changed, kept to roll them back) spills to a temp file past 64 KiB. A batch of
    // jobs passes that, so each entry created, wrote and deleted a file: on the leader more page
    // writes than the database's own WAL got. In memory the journal lives and dies with the entry.
    public const string WriterPragmas = """
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = NORMAL;
        PRAGMA foreign_keys = ON;
        PRAGMA temp_store = MEMORY;
        """;

    /// <summary>The column order <see cref="JobRow.Read"/> expects.</summary>
    public const string JobColumns =
        "job_id, status, queue, workflow, payload, priority, run_at, attempts, max_attempts, claimed_by, " +
        "lease_until, completed_by, created_at, updated_at, result, error, idempotency_key, trace_parent, timeout_ms, started_at, " +
        "parks, module_sha256";

    public const string GetAppliedIndex = "SELECT value FROM meta WHERE key = 'applied_index';";

    public const string SetAppliedIndex = "UPDATE meta SET value = $index WHERE key = 'applied_index' AND value < $index;";

    public const string JobGetById = $"SELECT {JobColumns} FROM jobs WHERE job_id = $job_id;";

    public const string SavepointCommand = "SAVEPOINT command;";

    public const string RollbackToCommand = "ROLLBACK TO command;";

    public const string ReleaseCommand = "RELEASE command;";

    public const string JobGetByIdempotencyKey = $"SELECT {JobColumns} FROM jobs WHERE idempotency_key = $key AND idempotency_key IS NOT NULL;";

    // A replayed id changes nothing here; the caller compares it with the stored job.
    public const string JobInsert = $"""
        INSERT INTO jobs (job_id, status, queue, workflow, payload, priority, run_at, attempts, max_attempts,
                          created_at, updated_at, idempotency_key, trace_parent, timeout_ms, module_sha256)
        VALUES ($job_id, 'pending', $queue, $workflow, $payload, $priority, $run_at, 0, $max_attempts,
                $now, $now, $idempotency_key, $trace_parent, $timeout_ms, $module_sha256)
        ON CONFLICT (job_id) DO NOTHING;
        """;

    // One statement: choose and take. The caller re-sorts the RETURNING rows, because SQLite
    // does not promise they come back in the order of the sub-select.
    public const string JobClaim = $"""
        UPDATE jobs
        SET status = 'running', claimed_by = $node, attempts = attempts + 1,
            lease_until = $now + $lease_ms, updated_at = $now
        WHERE job_id IN (
            SELECT job_id FROM jobs INDEXED BY jobs_claim
            WHERE status = 'pending' AND run_at <= $now
              AND ($queues IS NULL OR queue IN (SELECT value FROM json_each($queues)))
            ORDER BY priority DESC, run_at, job_id
            LIMIT $max)
        RETURNING {JobColumns};
        """;

    // Assignment: the live workers' offers, what each holds now, and the due jobs in claim order.
    public const string WorkersLive = """
        SELECT node, capacity, lease_ms, ready FROM workers
        WHERE alive_until > $now AND capacity > 0
        ORDER BY node;
        """;

    public const string JobsHeldByNode = """
        SELECT claimed_by, count(*) FROM jobs INDEXED BY jobs_running_lease
        WHERE status = 'running'
        GROUP BY claimed_by;
        """;

    // The next $max due jobs in claim order go to one worker; RETURNING only for this node's own
    // (its worker needs the rows), the others' changes are the same UPDATE without reading back.
    private const string AssignDueSet = """
        UPDATE jobs
        SET status = 'running', claimed_by = $node, attempts = attempts + 1,
            lease_until = $now + $lease_ms, updated_at = $now
        WHERE job_id IN (
            SELECT job_id FROM jobs INDEXED BY jobs_claim
            WHERE status = 'pending' AND run_at <= $now
            ORDER BY priority DESC, run_at, job_id
            LIMIT $max)
        """;

    public const string JobsAssignDue = AssignDueSet + ";";

    public const string JobsCountDue = """
        SELECT count(*) FROM (
            SELECT 1 FROM jobs INDEXED BY jobs_claim WHERE status = 'pending' AND run_at <= $now LIMIT $max);
        """;

    public const string JobsAssignDueReturning = AssignDueSet + $" RETURNING {JobColumns};";

    public const string JobsRunningByNode = $"""
        SELECT {JobColumns} FROM jobs INDEXED BY jobs_running_lease
        WHERE status = 'running' AND claimed_by = $node
        ORDER BY job_id;
        """;

    public const string WorkerOffer = """
        INSERT INTO workers (node, capacity, lease_ms, alive_until, ready) VALUES ($node, $capacity, $lease_ms, $alive_until, $ready)
        ON CONFLICT (node) DO UPDATE SET capacity = excluded.capacity, lease_ms = excluded.lease_ms, alive_until = excluded.alive_until, ready = excluded.ready;
        """;

    public const string WorkerMarkDead = "UPDATE workers SET alive_until = $now WHERE node = $node AND alive_until > $now;";

    // The fence for a finished attempt: (node, attempt) must still hold the claim. The token a
    // node holds is attempts + parks (Job.Fence): a parked job gives its attempt back, so the
    // attempt number alone would repeat when it runs again; with the parks counted it never does,
    // and for a job that never parked it is the attempt number, as in older log entries.
    public const string JobFence = """
        SELECT attempts, max_attempts FROM jobs
        WHERE job_id = $job_id AND status = 'running' AND claimed_by = $node AND attempts + parks = $attempt;
        """;

    public const string JobComplete = """
        UPDATE jobs
        SET status = 'completed', completed_by = $node, result = $result, lease_until = NULL, updated_at = $now,
            started_at = coalesce($started_at, started_at)
        WHERE job_id = $job_id AND status = 'running' AND claimed_by = $node AND attempts + parks = $attempt;
        """;

    public const string JobFailForGood = """
        UPDATE jobs SET status = 'failed', error = $error, lease_until = NULL, updated_at = $now,
            started_at = coalesce($started_at, started_at)
        WHERE job_id = $job_id;
        """;

    public const string JobRetry = """
        UPDATE jobs SET status = 'pending', error = $error, lease_until = NULL, run_at = $run_at, updated_at = $now,
            started_at = coalesce($started_at, started_at)
        WHERE job_id = $job_id;
        """;

    // A released job was never started: pending again at once, its attempt not counted.
    public const string JobRelease = """
        UPDATE jobs SET status = 'pending', attempts = attempts - 1, lease_until = NULL, updated_at = $now
        WHERE job_id = $job_id AND status = 'running' AND claimed_by = $node AND attempts + parks = $attempt;
        """;

    // A parked durable job (a long sleep) is pending again until its wake-up time; like a release
    // it gives its attempt back (a park is not a failure), and the park is counted instead, so the
    // next assignment still gets a fencing token (attempts + parks) no earlier run held.
    public const string JobPark = """
        UPDATE jobs SET status = 'pending', attempts = attempts - 1, parks = parks + 1, lease_until = NULL,
            run_at = $run_at, updated_at = $now, started_at = coalesce($started_at, started_at)
        WHERE job_id = $job_id AND status = 'running' AND claimed_by = $node AND attempts + parks = $attempt;
        """;

    public const string JobsPurgeFinished = """
        DELETE FROM jobs WHERE job_id IN (
            SELECT job_id FROM jobs INDEXED BY jobs_finished
            WHERE status IN ('completed', 'failed', 'cancelled') AND updated_at < $before
            LIMIT $max);
        """;

    public const string OldestFinishedAt = """
        SELECT min(updated_at) FROM jobs INDEXED BY jobs_finished WHERE status IN ('completed', 'failed', 'cancelled');
        """;

    public const string JobRenewLease = """
        UPDATE jobs SET lease_until = $now + $lease_ms
        WHERE job_id = $job_id AND status = 'running' AND claimed_by = $node AND attempts + parks = $attempt;
        """;




    public const string JobCancel = $"""
        UPDATE jobs SET status = 'cancelled', lease_until = NULL, updated_at = $now
        WHERE job_id = $job_id AND status IN ('pending', 'running')
        RETURNING {JobColumns};
        """;

    public const string JobsExpiredLeases = $"""
        SELECT {JobColumns} FROM jobs INDEXED BY jobs_running_lease
        WHERE status = 'running' AND lease_until <= $now
        ORDER BY lease_until, job_id;
        """;

    public const string ModuleInsert = """
        INSERT INTO modules (sha256, bytes) VALUES ($sha256, $bytes) ON CONFLICT (sha256) DO NOTHING;
        """;

    // Re-registering the same module keeps the original registration time.
    public const string WorkflowUpsert = """
        INSERT INTO workflows (name, sha256, registered_at, timeout_ms) VALUES ($name, $sha256, $now, $timeout_ms)
        ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, registered_at = excluded.registered_at, timeout_ms = excluded.timeout_ms
        WHERE workflows.sha256 <> excluded.sha256 OR workflows.timeout_ms IS NOT excluded.timeout_ms;
        """;

    // A module no workflow names any more and no unfinished job is pinned to is dead weight in
    // every snapshot. Reads every unfinished job (through the partial indexes): run only on a
    // registration or when the leader saw a module to collect, never per job.
    private const string ModulesUnreferenced = """
        FROM modules WHERE sha256 NOT IN (SELECT sha256 FROM workflows)
          AND sha256 NOT IN (SELECT module_sha256 FROM jobs INDEXED BY jobs_claim WHERE status = 'pending' AND module_sha256 IS NOT NULL)
          AND sha256 NOT IN (SELECT module_sha256 FROM jobs INDEXED BY jobs_running_lease WHERE status = 'running' AND module_sha256 IS NOT NULL)
        """;

    public const string ModulesDeleteUnreferenced = "DELETE " + ModulesUnreferenced + ";";

    public const string ModulesCountUnreferenced = "SELECT count(*) " + ModulesUnreferenced + ";";

    // Cheap first look: modules kept only for pinned jobs are few, usually none.
    public const string ModulesCountRetired = "SELECT count(*) FROM modules WHERE sha256 NOT IN (SELECT sha256 FROM workflows);";

    public const string WorkflowGetSha = "SELECT sha256 FROM workflows WHERE name = $name;";

    public const string WorkflowList = "SELECT name, sha256, registered_at, timeout_ms FROM workflows ORDER BY name;";

    public const string WorkflowGet = "SELECT name, sha256, registered_at, timeout_ms FROM workflows WHERE name = $name;";

    public const string WorkflowGetModule = """
        SELECT w.name, w.sha256, w.registered_at, m.bytes, w.timeout_ms
        FROM workflows w JOIN modules m ON m.sha256 = w.sha256
        WHERE w.name = $name;
        """;

    public const string ModuleGet = "SELECT bytes FROM modules WHERE sha256 = $sha256;";

    // Counted from the partial indexes: O(unfinished jobs), whatever the history.
    public const string JobsCountUnfinished = """
        SELECT (SELECT count(*) FROM jobs INDEXED BY jobs_claim WHERE status = 'pending'),
               (SELECT count(*) FROM jobs INDEXED BY jobs_running_lease WHERE status = 'running');
        """;

    public const string JobsCountByStatus = "SELECT status, count(*) FROM jobs GROUP BY status;";

    public const string NextDueAt = """
        SELECT min(due) FROM (
            SELECT min(run_at) AS due FROM jobs INDEXED BY jobs_pending_run_at WHERE status = 'pending'
            UNION ALL
            SELECT min(lease_until) FROM jobs INDEXED BY jobs_running_lease WHERE status = 'running');
        """;

    public const string NextPendingRunAt = """
        SELECT min(run_at) FROM jobs INDEXED BY jobs_pending_run_at WHERE status = 'pending';
        """;

    public const string NextLeaseExpiry = """
        SELECT min(lease_until) FROM jobs INDEXED BY jobs_running_lease WHERE status = 'running';
        """;

    public const string LongestOfferedLease = "SELECT max(lease_ms) FROM workers;";

    public const string JobListSelect = $"SELECT {JobColumns} FROM jobs";

    // Checksum input: every replicated table in primary-key order, columns in a fixed order.
    public static readonly IReadOnlyList<(string Table, string Query)> ChecksumTables =
    [
        ("jobs", $"SELECT {JobColumns} FROM jobs ORDER BY job_id;"),
        ("workflows", "SELECT name, sha256, registered_at, timeout_ms FROM workflows ORDER BY name;"),
        ("modules", "SELECT sha256, bytes FROM modules ORDER BY sha256;"),
        ("workers", "SELECT node, capacity, lease_ms, alive_until, ready FROM workers ORDER BY node;"),
        ("job_journal", JournalChecksum),
        ("meta", "SELECT key, value FROM meta WHERE key = 'applied_index';"),
    ];
}
