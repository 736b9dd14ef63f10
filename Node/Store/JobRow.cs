using Microsoft.Data.Sqlite;

namespace Flotilla.Node.Store;

/// <summary>Maps between <see cref="Job"/> and rows selected with <see cref="Schema.JobColumns"/>.</summary>
internal static class JobRow
{
    /// <summary>The text stored for a status: lowercase, as the HTTP contract spells it.</summary>
    public static string ToText(JobStatus status) => status switch
    {
        JobStatus.Pending => "pending",
        JobStatus.Running => "running",
        JobStatus.Completed => "completed",
        JobStatus.Failed => "failed",
        JobStatus.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "Unknown job status."),
    };

    public static JobStatus ParseStatus(string text) => text switch
    {
        "pending" => JobStatus.Pending,
        "running" => JobStatus.Running,
        "completed" => JobStatus.Completed,
        "failed" => JobStatus.Failed,
        "cancelled" => JobStatus.Cancelled,
        _ => throw new InvalidDataException($"Unknown job status '{text}' in the jobs table."),
    };

    public static Job Read(SqliteDataReader r) => Read(new ReaderColumns(r));

    /// <summary>The current row of <paramref name="columns"/> (selected with <see cref="Schema.JobColumns"/>) as a job.</summary>
    public static Job Read<TColumns>(TColumns r)
        where TColumns : IColumns => new(
        JobId: r.Text(0),
        Status: ParseStatus(r.Text(1)),
        Queue: r.Text(2),
        Workflow: r.Text(3),
        Payload: r.Text(4),
        Priority: checked((int)r.Integer(5)),
        RunAt: r.Integer(6),
        Attempts: checked((int)r.Integer(7)),
        MaxAttempts: checked((int)r.Integer(8)),
        ClaimedBy: r.IsNull(9) ? null : r.Text(9),
        LeaseUntil: r.IsNull(10) ? null : r.Integer(10),
        CompletedBy: r.IsNull(11) ? null : r.Text(11),
        CreatedAt: r.Integer(12),
        UpdatedAt: r.Integer(13),
        Result: r.IsNull(14) ? null : r.Text(14),
        Error: r.IsNull(15) ? null : r.Text(15),
        IdempotencyKey: r.IsNull(16) ? null : r.Text(16),
        TraceParent: r.IsNull(17) ? null : r.Text(17),
        TimeoutMs: r.IsNull(18) ? null : checked((int)r.Integer(18)),
        StartedAt: r.IsNull(19) ? null : r.Integer(19),
        Parks: checked((int)r.Integer(20)),
        ModuleSha256: r.IsNull(21) ? null : r.Text(21));

    /// <summary>Runs <paramref name="command"/> and reads every row as a job.</summary>
    public static List<Job> ReadAll(SqliteCommand command)
    {
        var jobs = new List<Job>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            jobs.Add(Read(reader));
        }

        return jobs;
    }

    public static Job? ReadSingle(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        return reader.Read() ? Read(reader) : null;
    }

    /// <summary>The columns of a row, whichever API reads it.</summary>
    public interface IColumns
    {
        string Text(int i);

        long Integer(int i);

        bool IsNull(int i);
    }

    private readonly struct ReaderColumns(SqliteDataReader reader) : IColumns
    {
        public string Text(int i) => reader.GetString(i);

        public long Integer(int i) => reader.GetInt64(i);

        public bool IsNull(int i) => reader.IsDBNull(i);
    }
}
