namespace Flotilla.Api;

/// <summary>The Api's log lines, numbered 2001+ (the nodes use 1xxx).</summary>
internal static partial class LogMessages
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Leader is {Leader} at {LeaderUrl} (reported by {Node})")]
    public static partial void LeaderFound(ILogger logger, string? leader, Uri leaderUrl, Uri node);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Debug, Message = "No leader URL known; writes go through any node")]
    public static partial void NoLeaderUrl(ILogger logger);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "{Method} {Path}: {Node} refused the connection; trying the next node")]
    public static partial void NodeRefused(ILogger logger, string method, string path, Uri node);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "{Method} {Path}: {Node} answered 503 (nothing written); retrying in {Backoff}")]
    public static partial void NodeUnavailable(ILogger logger, string method, string path, Uri node, TimeSpan backoff);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Error, Message = "{Method} {Path}: {Node} failed after the request was sent; not retried, the outcome is unknown")]
    public static partial void WriteAmbiguous(ILogger logger, Exception exception, string method, string path, Uri node);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Debug, Message = "GET /workflows on {Node} answered {Status}; the known-workflow check is skipped")]
    public static partial void WorkflowListUnavailable(ILogger logger, Uri node, int status);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Debug, Message = "Read {Path} from {Node} failed ({Reason}); trying the next node")]
    public static partial void ReadFailed(ILogger logger, string path, Uri node, string reason);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Warning, Message = "Api:Keys is not set: the Api is open to every caller. Set Api:Keys (key or key:scope+scope, comma-separated) to require X-Api-Key")]
    public static partial void ApiOpen(ILogger logger);
}
