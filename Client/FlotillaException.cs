using System.Net;

namespace Flotilla.Client;

/// <summary>
/// Flotilla refused a request or could not carry it out: the HTTP status and the problem details
/// (RFC 9457) it answered with. <see cref="Errors"/> names each bad field of a refused job.
/// </summary>
public sealed class FlotillaException : Exception
{
    /// <summary>Creates the exception for an answer.</summary>
    public FlotillaException(HttpStatusCode status, string? title, string? detail, IReadOnlyDictionary<string, string[]>? errors = null, Exception? inner = null)
        : base(MessageOf(status, title, detail, errors), inner)
    {
        Status = status;
        Title = title;
        Detail = detail;
        Errors = errors ?? new Dictionary<string, string[]>();
    }

    /// <summary>The HTTP status (400 for a job this client refused before sending it).</summary>
    public HttpStatusCode Status { get; }

    /// <summary>The problem's title: what went wrong.</summary>
    public string? Title { get; }

    /// <summary>The problem's detail: this occurrence.</summary>
    public string? Detail { get; }

    /// <summary>Validation errors by field (<c>workflow</c>, <c>[3].priority</c>); empty when there were none.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; }

    /// <summary>True for answers worth retrying later as they are: 503 (no leader yet, nothing written) and 429.</summary>
    public bool IsTransient => Status is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests;

    private static string MessageOf(HttpStatusCode status, string? title, string? detail, IReadOnlyDictionary<string, string[]>? errors)
    {
        var message = $"{(int)status} {title ?? status.ToString()}";
        if (!string.IsNullOrWhiteSpace(detail))
        {
            message += ": " + detail;
        }

        if (errors is { Count: > 0 })
        {
            message += " (" + string.Join("; ", errors.SelectMany(e => e.Value)) + ")";
        }

        return message;
    }
}
