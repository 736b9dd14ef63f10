using System.Globalization;
using System.Text;

namespace Flotilla.Node.Store;

// The durable-workflow journal: appends fenced by the current claim, and reads for replay and
// for GET /jobs/{id}/journal. The rows go with their job (ON DELETE CASCADE).
internal sealed partial class JobStore
{
    private CommandResult AppendToJournal(AppendJournal command, long now)
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
        long? bytes = null;
        var appended = 0;
        foreach (var entry in command.Entries)
        {
            if (entry?.Kind is null || entry.RequestHash is null || entry.Request is null)
            {
                return new Rejected("append_journal: every entry needs a kind, a request hash and a request");
            }

            if (entry.Seq <= last)
            {
                switch (StoredAt(command, entry, attempt))
                {
                    case Stored.Same:
                        continue;
                    case Stored.IntentNowDone when entry.Response?.Length > Schema.JournalMaxEntryBytes:
                        return FailOnLimit(command, now, $"an entry over {Schema.JournalMaxEntryBytes} bytes at seq {entry.Seq}");
                    case Stored.IntentNowDone when (bytes ??= JournalBytes(command.JobId)) + (entry.Response?.Length ?? 0) > Schema.JournalMaxBytes:
                        return FailOnLimit(command, now, $"{Schema.JournalMaxBytes / (1024 * 1024)} MiB");
                    case Stored.IntentNowDone:
                        Write(Schema.JournalComplete)
                            .With("$job_id", command.JobId)
                            .With("$seq", entry.Seq)
                            .With("$response", entry.Response)
                            .With("$attempt", attempt)
                            .ExecuteNonQuery();
                        bytes = null;
                        appended++;
                        continue;
                    default:
                        return new Rejected(string.Create(CultureInfo.InvariantCulture, $"append_journal: job {command.JobId} already has a different entry {entry.Seq}"));
                }
            }

            if (entry.Seq != last + 1)
            {
                return new Rejected(string.Create(CultureInfo.InvariantCulture, $"append_journal: job {command.JobId} expects entry {last + 1}, got {entry.Seq}"));
            }

            // Past a limit the job fails for good (its guest is stopped): a journal that can no
            // longer take the calls cannot be replayed faithfully. The host stops it earlier.
            if (entry.Seq > Schema.JournalMaxEntries)
            {
                return FailOnLimit(command, now, $"{Schema.JournalMaxEntries} entries");
            }

            var size = Encoding.UTF8.GetByteCount(entry.Request) + (entry.Response?.Length ?? 0);
            // An empty journal (a first append: most durable jobs have only one) holds no bytes.
            bytes ??= last == 0 ? 0 : JournalBytes(command.JobId);
            if (entry.Response?.Length > Schema.JournalMaxEntryBytes)
            {
                return FailOnLimit(command, now, $"an entry over {Schema.JournalMaxEntryBytes} bytes at seq {entry.Seq}");
            }

            if (bytes + size > Schema.JournalMaxBytes)
            {
                return FailOnLimit(command, now, $"{Schema.JournalMaxBytes / (1024 * 1024)} MiB");
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
            bytes += size;
            last = entry.Seq;
            appended++;
        }

        return new CountResult(appended);
    }

    private long JournalBytes(string jobId) => (long)Write(Schema.JournalBytes).With("$job_id", jobId).ExecuteScalar()!;

    private enum Stored
    {
        Same,
        IntentNowDone,
        Different,
    }

    // An entry at a seq the journal has: the same proposal applied again (same request, same
    // attempt, nothing new), a side effect's result for its intent (any attempt holding the claim:
    // a replay may re-send it), or a conflict.
    private Stored StoredAt(AppendJournal command, JournalEntry entry, int attempt)
    {
        using var stored = Write(Schema.JournalGetHash).With("$job_id", command.JobId).With("$seq", entry.Seq).ExecuteReader();
        if (!stored.Read() || stored.GetString(0) != entry.RequestHash)
        {
            return Stored.Different;
        }

        var storedIntent = stored.GetString(2) == "intent";
        if (storedIntent && entry.State == JournalState.Done)
        {
            return Stored.IntentNowDone;
        }

        return stored.GetInt32(1) == attempt ? Stored.Same : Stored.Different;
    }

    // Not a Rejected (that would roll the failure back): the job is failed and its guest revoked.
    private JobChange FailOnLimit(AppendJournal command, long now, string limit)
    {
        var error = $"journal limit ({limit}) reached for job {command.JobId}";
        Write(Schema.JobFailForGood).With("$job_id", command.JobId).With("$error", error).With("$now", now).With("$started_at", null).ExecuteNonQuery();
        _revoked!.Add(new RevokedJob(command.JobId, command.Node, command.Attempt));
        AddHeld(command.Node, -1);
        return new JobChange(true, CurrentJob(command.JobId));
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
