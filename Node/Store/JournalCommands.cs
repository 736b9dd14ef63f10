using System.Text.Json.Serialization;

namespace Flotilla.Node.Store;

/// <summary>Whether a journaled host call finished (its response is known) or was only started (a side effect's intent).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<JournalState>))]
internal enum JournalState
{
    /// <summary>The call finished; its response answers every replay.</summary>
    Done,

    /// <summary>A side effect was about to be sent; its outcome is unknown until a result follows.</summary>
    Intent,
}

/// <summary>
/// One host call of a durable workflow run. <paramref name="RequestHash"/> identifies what the
/// guest asked (kind and arguments), so a replay can tell the guest asked the same;
/// <paramref name="Request"/> is a short readable summary of it; <paramref name="At"/> is the
/// runner's clock when the call was made (for display: apply never reads a clock).
/// </summary>
internal sealed record JournalEntry(
    int Seq,
    string Kind,
    string RequestHash,
    string Request,
    byte[]? Response,
    JournalState State,
    long At,
    int Attempt = 0);

/// <summary>
/// Appends entries to a job's journal, only while (node, attempt) holds the job's claim: a node
/// presumed dead cannot write into the journal of the attempt that replaced it. Entries must
/// continue the journal (the first seq is one past the last stored); entries already stored
/// with the same request by the same attempt are skipped, so a proposal retried after an unknown
/// outcome applies once. A done entry at the seq of a stored intent (same request) is that side
/// effect's result: it completes the intent, whichever attempt learnt it. Past a limit (10,000
/// entries, 64 MiB of requests and responses, a response over 1 MiB) the job fails for good with
/// <c>journal limit …</c> and its guest is revoked.
/// </summary>
internal sealed record AppendJournal(string JobId, string Node, int Attempt, IReadOnlyList<JournalEntry> Entries) : Command;
