using System.Globalization;

namespace Flotilla.Node.Store;

// The durable-workflow journal: appends fenced by the current claim, and reads for replay and
// for GET /jobs/{id}/journal. The rows go with their job (ON DELETE CASCADE).
internal sealed partial class JobStore
{
    private CommandResult AppendToJournal(AppendJournal command)
    {
        if (string.IsNullOrWhiteSpace(command.JobId) || string.IsNullOrWhiteSpace(command.Node) || command.Entries is null)
        {
            return new Rejected("append_journal: job id, node and entries are required");
        }

        // The command carries the assignment's token (attempts + parks); the journal shows the
        // attempt itself, which a park does not change.
        int attempt;
        using (var fence = Write(Schema.JobFence).With("$job_id", command.JobId).With("$node", command.Node).With("$attempt", command.Attempt).ExecuteReader())
        {
            if (!fence.Read())
            {
                return new Rejected(string.Create(CultureInfo.InvariantCulture, $"append_journal: {command.Node} attempt {command.Attempt} does not hold job {command.JobId}"));
            }

            attempt = fence.GetInt32(0);
        }

        var last = (long)Write(Schema.JournalMaxSeq).With("$job_id", command.JobId).ExecuteScalar()!;
        var appended = 0;
        foreach (var entry in command.Entries)
        {
            if (entry?.Kind is null || entry.RequestHash is null || entry.Request is null)
            {
                return new Rejected("append_journal: every entry needs a kind, a request hash and a request");
            }

            if (entry.Seq <= last)
            {
                // Stored already: the same proposal applied twice, or something else at that seq.
                using var stored = Write(Schema.JournalGetHash).With("$job_id", command.JobId).With("$seq", entry.Seq).ExecuteReader();
                if (stored.Read() && stored.GetString(0) == entry.RequestHash && stored.GetInt32(1) == attempt)
                {
                    continue;
                }

                return new Rejected(string.Create(CultureInfo.InvariantCulture, $"append_journal: job {command.JobId} already has a different entry {entry.Seq}"));
            }

            if (entry.Seq != last + 1)
            {
                return new Rejected(string.Create(CultureInfo.InvariantCulture, $"append_journal: job {command.JobId} expects entry {last + 1}, got {entry.Seq}"));
            }

            if (entry.Seq > Schema.JournalMaxEntries)
            {
                return new Rejected(string.Create(CultureInfo.InvariantCulture, $"append_journal: journal limit ({Schema.JournalMaxEntries} entries) for job {command.JobId}"));
            }

            Write(Schema.JournalInsert)
                .With("$job_id", command.JobId)
                .With("$seq", entry.Seq)
                .With("$kind", entry.Kind)
                .With("$request_hash", entry.RequestHash)
                .With("$request", entry.Request)
                .With("$response", entry.Response)
                .With("$state", entry.State == JournalState.Intent ? "intent" : "done")
                .With("$at", entry.At)
                .With("$attempt", attempt)
                .ExecuteNonQuery();
            last = entry.Seq;
            appended++;
        }

        return new CountResult(appended);
    }

    /// <summary>A job's journal in seq order (empty when it has none or the job is unknown).</summary>
    public IReadOnlyList<JournalEntry> GetJournal(string jobId)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = Schema.JournalList;
        command.With("$job_id", jobId);
        using var reader = command.ExecuteReader();
        var entries = new List<JournalEntry>();
        while (reader.Read())
        {
            entries.Add(new JournalEntry(
                Seq: reader.GetInt32(1),
                Kind: reader.GetString(2),
                RequestHash: reader.GetString(3),
                Request: reader.GetString(4),
                Response: reader.IsDBNull(5) ? null : (byte[])reader.GetValue(5),
                State: reader.GetString(6) == "intent" ? JournalState.Intent : JournalState.Done,
                At: reader.GetInt64(7),
                Attempt: reader.GetInt32(8)));
        }

        return entries;
    }
}
