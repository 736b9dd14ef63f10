using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Flotilla.Node.Workflows.Durable;

/// <summary>One journaled host call as the runner sees it: what was asked (kind, hash, summary) and what was answered.</summary>
/// <param name="Request">A short readable summary, e.g. <c>random_bytes 16</c>; the hash covers the full request.</param>
/// <param name="At">Unix ms on the runner's clock when the call was first made.</param>
/// <param name="Intent">A side effect about to be sent: its result (a later entry at the same seq) is not known yet.</param>
internal sealed record HostCall(int Seq, string Kind, string RequestHash, string Request, byte[] Response, long At, bool Intent = false)
{
    /// <summary>What the entry costs against the journal's byte limit: its request summary and its response.</summary>
    public long Size => Encoding.UTF8.GetByteCount(Request) + Response.Length;
}

/// <summary>
/// The journal of one durable attempt: the calls earlier attempts committed (answered in order,
/// each checked against what the guest asks now), then the live calls this attempt adds, kept
/// in memory until the worker commits them with the attempt's outcome, or until a side effect
/// commits them ahead of its intent. A side effect is two steps at one seq: its intent
/// (<see cref="Record"/>), then its result (<see cref="Complete"/>). Used by one guest thread at a time.
/// </summary>
/// <param name="load">Reads the committed journal; called only when the guest turns out to be durable.</param>
internal sealed class RunJournal(Func<IReadOnlyList<HostCall>> load)
{
    /// <summary>The most entries a journal may hold, as the store enforces it too.</summary>
    public const int MaxEntries = 10_000;

    /// <summary>The most bytes (request summaries and responses) a journal may hold, as the store enforces it too.</summary>
    public const long MaxBytes = 64L * 1024 * 1024;

    /// <summary>The largest response one entry may hold, as the store enforces it too; a host call answers -2 beyond it.</summary>
    public const int MaxEntryBytes = 1024 * 1024;

    private readonly List<HostCall> _appended = [];
    private readonly List<HostCall> _pending = [];
    private IReadOnlyList<HostCall> _history = [];
    private int _next;
    private long _bytes;

    /// <summary>A journal with no committed history (a first attempt, or a run outside a job).</summary>
    public static RunJournal Empty() => new(static () => []);

    /// <summary>True once a durable guest started with this journal (its history was loaded).</summary>
    public bool Opened { get; private set; }

    /// <summary>How many committed calls were answered from the journal.</summary>
    public int Replayed => Math.Min(_next, _history.Count);

    /// <summary>While true, the guest is re-doing calls an earlier attempt made: logs are not repeated.</summary>
    public bool Replaying => _next < _history.Count;

    /// <summary>The calls made live in this attempt.</summary>
    public IReadOnlyList<HostCall> Appended => _appended;

    /// <summary>
    /// The live calls (and results of side effects) not committed yet: they ride with the
    /// attempt's outcome, or go ahead of the next side effect.
    /// </summary>
    public IReadOnlyList<HostCall> Pending => [.. _pending];

    /// <summary>The seq the next call gets.</summary>
    public int NextSeq => _next + 1;

    /// <summary>
    /// Commits live calls before the run ends (before a long sleep), so a node that dies
    /// meanwhile does not take them along. Completes when they are applied; throws when the
    /// append was refused (this attempt lost its claim). Without one, calls wait for the outcome.
    /// </summary>
    public Func<IReadOnlyList<HostCall>, Task>? Committer { get; init; }

    /// <summary>Why the run must fail for good (nondeterminism, journal limit); null while it may go on.</summary>
    public string? Failure { get; private set; }

    /// <summary>True when the run belongs to a job that can be parked (a long sleep frees its slot); else sleeps wait in place.</summary>
    public bool CanPark { get; init; }

    /// <summary>Set when the guest parked: the wake-up time (Unix ms) the job is due again at.</summary>
    public long? ParkedUntil { get; private set; }

    /// <summary>Parks the run until <paramref name="wakeAt"/>: the returned exception, thrown, stops the guest.</summary>
    public GuestParkedException Park(long wakeAt)
    {
        ParkedUntil = wakeAt;
        return new GuestParkedException(wakeAt);
    }

    /// <summary>Loads the committed history; called before the guest starts.</summary>
    public void Open()
    {
        if (Opened)
        {
            return;
        }

        _history = load();
        _bytes = _history.Sum(c => c.Size);
        Opened = true;
    }

    /// <summary>
    /// Answers one host call: from the journal while it has calls left (the guest must ask the
    /// same thing in the same order), else live, recording the answer. Throws
    /// <see cref="JournalDivergedException"/>, stopping the guest, on a mismatch or past the limit.
    /// </summary>
    public byte[] Call(string kind, string request, Func<byte[]> live, long now)
    {
        var hash = Hash(kind, request);
        if (Recorded(kind, hash, request) is { } recorded)
        {
            return recorded.Response;
        }

        var call = Record(new HostCall(NextSeq, kind, hash, request, live(), now));
        Traced(call, "ok");
        return call.Response;
    }

    /// <summary>
    /// While the journal has calls left: the next one, checked against what the guest asks now
    /// (kind and hash; a mismatch throws <see cref="JournalDivergedException"/>). Null once live.
    /// </summary>
    public HostCall? Recorded(string kind, string hash, string request)
    {
        if (_next >= _history.Count)
        {
            return null;
        }

        var recorded = _history[_next];
        if (recorded.Kind != kind || recorded.RequestHash != hash)
        {
            throw Diverged($"nondeterminism at seq {recorded.Seq}: journal has {recorded.Request}, guest asked {request}");
        }

        _next++;
        return recorded;
    }

    /// <summary>
    /// Records a live call at <see cref="NextSeq"/> (done, or a side effect's intent) and queues
    /// it for the next commit. Past the journal's limits it throws
    /// <see cref="JournalDivergedException"/>: the run fails for good.
    /// </summary>
    public HostCall Record(HostCall call)
    {
        if (call.Seq > MaxEntries)
        {
            throw Diverged($"journal limit ({MaxEntries} entries) reached at seq {call.Seq}: guest asked {call.Request}");
        }

        if (call.Response.Length > MaxEntryBytes || _bytes + call.Size > MaxBytes)
        {
            throw Diverged($"journal limit ({MaxBytes / (1024 * 1024)} MiB) reached at seq {call.Seq}: guest asked {call.Request}");
        }

        _appended.Add(call);
        _pending.Add(call);
        _bytes += call.Size;
        _next++;
        return call;
    }

    /// <summary>
    /// Gives a side effect's intent (recorded live now, or replayed from an earlier attempt) its
    /// result, queued for the next commit under the same seq.
    /// </summary>
    public HostCall Complete(HostCall intent, byte[] response)
    {
        if (_bytes + response.Length > MaxBytes)
        {
            throw Diverged($"journal limit ({MaxBytes / (1024 * 1024)} MiB) reached at seq {intent.Seq}: guest asked {intent.Request}");
        }

        var done = intent with { Response = response, Intent = false };
        var live = _appended.IndexOf(intent);
        if (live >= 0)
        {
            _appended[live] = done;
        }

        _pending.Add(done);
        _bytes += response.Length;
        return done;
    }

    /// <summary>A span event on the job's execute span (the guest's thread runs in its context) for a call made now.</summary>
    public static void Traced(HostCall call, string result) =>
        Activity.Current?.AddEvent(new ActivityEvent("flotilla.host_call", tags: new ActivityTagsCollection
        {
            ["flotilla.journal.seq"] = call.Seq,
            ["flotilla.journal.kind"] = call.Kind,
            ["flotilla.journal.request"] = call.Request,
            ["flotilla.journal.result"] = result,
        }));

    /// <summary>
    /// Commits the pending calls now, waiting through <paramref name="watch"/> (the run's
    /// deadline and cancel still stop the guest). A refused append throws, stopping the guest:
    /// its claim is gone and another attempt owns the journal.
    /// </summary>
    public void CommitPending(RunWatch watch)
    {
        if (Committer is null || _pending.Count == 0)
        {
            return;
        }

        var pending = Pending;
        var commit = Committer(pending);
        watch.Wait(commit);
        commit.GetAwaiter().GetResult();
        _pending.RemoveRange(0, pending.Count);
    }

    // What the guest asked, kind and arguments; 128 bits are plenty to tell two requests apart.
    public static string Hash(string kind, string request) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(kind + "\n" + request)))[..32];

    private JournalDivergedException Diverged(string reason)
    {
        Failure = reason;
        return new JournalDivergedException(reason);
    }
}

/// <summary>Stops a durable guest whose calls no longer match its journal; the run fails for good with the message.</summary>
internal sealed class JournalDivergedException(string message) : Exception(message);
