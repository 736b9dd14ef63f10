using Flotilla.Node.Cluster;
using Microsoft.AspNetCore.Diagnostics;

namespace Flotilla.Node.Http;

/// <summary>Turns "no leader right now" into a 503 problem with Retry-After, so clients retry instead of failing.</summary>
internal sealed class ClusterExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not NoLeaderException)
        {
            return false;
        }

        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "1";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "The cluster cannot take this request right now.",
                Detail = exception.Message,
            },
        });
    }
}
