using System.Text;
using System.Text.RegularExpressions;

namespace Flotilla.Client;

/// <summary>
/// The limits and rules of the HTTP contract, with the messages a refusal carries. Nodes and the
/// Api check with these, so both refuse exactly the same input in the same words; the client
/// uses them to fail early.
/// </summary>
public static partial class JobRules
{
    /// <summary>Largest payload, as JSON text in UTF-8.</summary>
    public const int MaxPayloadBytes = 1024 * 1024;

    /// <summary>Jobs in one <c>POST /jobs/batch</c>.</summary>
    public const int MaxBatch = 1000;

    /// <summary>Attempts a job gets unless it says otherwise.</summary>
    public const int DefaultMaxAttempts = 5;

    /// <summary>The queue of a job that names none.</summary>
    public const string DefaultQueue = "default";

    /// <summary>The workflow <c>POST /new-job</c> runs: it returns its payload and the node that ran it.</summary>
    public const string DefaultWorkflow = "echo";

    /// <summary>Largest <c>url</c> of <c>POST /new-job</c>, in UTF-8 bytes (2 KiB).</summary>
    public const int MaxUrlBytes = 2048;

    /// <summary>Longest <c>wait_ms</c> of <c>GET /jobs/{id}</c>.</summary>
    public const int MaxWaitMs = 60_000;

    /// <summary>Largest page of <c>GET /jobs</c> (<c>limit</c>), and its default.</summary>
    public const int MaxPageSize = 1000;

    /// <summary>The page size when <c>limit</c> is not given.</summary>
    public const int DefaultPageSize = 100;

    /// <summary>Largest WebAssembly module <c>PUT /workflows/{name}</c> takes.</summary>
    public const int MaxModuleBytes = 16 * 1024 * 1024;

    /// <summary>Longest run timeout (one day).</summary>
    public const int MaxTimeoutMs = 24 * 3600 * 1000;

    /// <summary>Longest <c>delay_ms</c>, and how far ahead <c>run_at</c> may be.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromDays(366);

    /// <summary>Why a <c>status</c> filter was refused.</summary>
    public const string StatusRule = "status must be one of pending, running, completed, failed, cancelled.";

    /// <summary>Why a <c>limit</c> was refused.</summary>
    public const string LimitRule = "limit must be between 1 and 1000.";

    /// <summary>Why a <c>wait_ms</c> was refused.</summary>
    public const string WaitRule = "wait_ms must be between 0 and 60000.";

    /// <summary>Why a <c>timeout_ms</c> was refused.</summary>
    public const string TimeoutRule = "timeout_ms must be between 1 and 86400000.";

    /// <summary>Why a workflow, queue or workflow-registration name was refused.</summary>
    public static string NameRule(string field) => $"{field} must be 1-64 characters of a-z, A-Z, 0-9, '.', '_' or '-'.";

    /// <summary>Whether a workflow or queue name is well formed.</summary>
    public static bool IsName(string? value) => value is not null && NamePattern().IsMatch(value);

    /// <summary>
    /// The rule of <c>POST /new-job</c>'s <c>url</c> field, as the system Flotilla replaces had it:
    /// any non-empty URL or bare host (<c>test-job.com</c>), at most 2 KiB, without control characters.
    /// Returns why it is refused, or null when it is fine.
    /// </summary>
    public static string? CheckJobUrl(string? url)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            return "url is required: a URL or a host name, e.g. url=test-job.com.";
        }

        if (Encoding.UTF8.GetByteCount(url) > MaxUrlBytes)
        {
            return $"url must be at most {MaxUrlBytes} bytes.";
        }

        return url.Any(char.IsControl) ? "url must not contain control characters." : null;
    }

    /// <summary>
    /// A batch names each idempotency key at most once (which job would the key answer with?).
    /// Adds an error at every repeat, under <paramref name="prefixFormat"/> (e.g. <c>[{0}].</c>).
    /// </summary>
    public static void CheckDistinctKeys(IReadOnlyList<SubmitJobRequest?> jobs, string prefixFormat, IDictionary<string, string[]> errors)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentNullException.ThrowIfNull(errors);
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < jobs.Count; i++)
        {
            if (jobs[i]?.IdempotencyKey is { } key && !first.TryAdd(key, i))
            {
                var prefix = string.Format(System.Globalization.CultureInfo.InvariantCulture, prefixFormat, i);
                errors[prefix + "idempotency_key"] = [$"idempotency_key '{key}' is already used by job {first[key]} of this batch."];
            }
        }
    }

    /// <summary>Parses a <c>status</c> filter by name (<c>pending</c>...): numbers and lists are not statuses.</summary>
    public static bool TryParseStatus(string? text, out JobStatus status)
    {
        status = default;
        var name = Enum.GetNames<JobStatus>().FirstOrDefault(n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase));
        return name is not null && Enum.TryParse(name, out status);
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex NamePattern();
}
