using Flotilla.Node.Cluster;
using Microsoft.AspNetCore.Diagnostics;

namespace Flotilla.Node.Apis;

/// <summary>
/// Turns "no leader right now" into a 503 problem with Retry-After (nothing was written: retry),
/// and a forwarded write whose answer was lost into a 502 (it may be written: retry only with
/// an idempotency key).
/// </summary>
internal sealed class ClusterExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title) = exception switch
        {
            NoLeaderException => (StatusCodes.Status503ServiceUnavailable, "The cluster cannot take this request right now."),
            WriteOutcomeUnknownException => (StatusCodes.Status502BadGateway, "The write's outcome is unknown."),
            InvalidCommandException => (StatusCodes.Status400BadRequest, "The command is not valid."),
            _ => (0, string.Empty),
        };
        if (status == 0)
        {
            return false;
        }

        context.Response.StatusCode = status;
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = exception.Message },
        });
    }
}
