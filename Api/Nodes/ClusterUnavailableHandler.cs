using Microsoft.AspNetCore.Diagnostics;

namespace Flotilla.Api.Nodes;

/// <summary>Writes <see cref="ClusterUnavailableException"/> as problem details; a 503 carries Retry-After so clients back off and retry.</summary>
internal sealed class ClusterUnavailableHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not ClusterUnavailableException unavailable)
        {
            return false;
        }

        context.Response.StatusCode = unavailable.Status;
        if (unavailable.Status == StatusCodes.Status503ServiceUnavailable)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = unavailable.Status, Title = unavailable.Title, Detail = unavailable.Message },
        });
    }
}
