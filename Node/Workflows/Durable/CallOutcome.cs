namespace Flotilla.Node.Workflows.Durable;

/// <summary>
/// What <c>call</c> answers a guest, and how a side effect's result is journaled: the response
/// JSON itself (the call answers its length), or for an error one byte holding its negated code.
/// A response is a JSON object, so one byte never is one.
/// </summary>
internal static class CallOutcome
{
    public const long BadArgument = -1;
    public const long TooLarge = -2;
    public const long Interrupted = -3;
    public const long Denied = -4;

    /// <summary>The journaled form of an error.</summary>
    public static byte[] Error(long code) => [(byte)-code];

    /// <summary>What the guest gets for a journaled result: the response's length, or the error code.</summary>
    public static long Code(byte[] journaled) => journaled is [var b] && b is 2 or 3 or 4 ? -b : journaled.Length;

    /// <summary>How the journal view and the span name the result.</summary>
    public static string Describe(long code) => code switch
    {
        >= 0 => "done",
        TooLarge => "too_large",
        Interrupted => "interrupted",
        Denied => "denied",
        _ => "bad_argument",
    };
}
