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

    public static Job Read(SqliteDataReader r) => new(
        JobId: r.GetString(0),
        Status: ParseStatus(r.GetString(1)),
        Queue: r.GetString(2),
        Workflow: r.GetString(3),
        Payload: r.GetString(4),
        Priority: r.GetInt32(5),
        RunAt: r.GetInt64(6),
        Attempts: r.GetInt32(7),
        MaxAttempts: r.GetInt32(8),
        ClaimedBy: r.IsDBNull(9) ? null : r.GetString(9),
        LeaseUntil: r.IsDBNull(10) ? null : r.GetInt64(10),
        CompletedBy: r.IsDBNull(11) ? null : r.GetString(11),
        CreatedAt: r.GetInt64(12),
        UpdatedAt: r.GetInt64(13),
        Result: r.IsDBNull(14) ? null : r.GetString(14),
        Error: r.IsDBNull(15) ? null : r.GetString(15),
        IdempotencyKey: r.IsDBNull(16) ? null : r.GetString(16),
        TraceParent: r.IsDBNull(17) ? null : r.GetString(17),
        TimeoutMs: r.IsDBNull(18) ? null : r.GetInt32(18),
        StartedAt: r.IsDBNull(19) ? null : r.GetInt64(19),
        Parks: r.GetInt32(20),
        ModuleSha256: r.IsDBNull(21) ? null : r.GetString(21));

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
}
