using Microsoft.AspNetCore.Diagnostics;

namespace Flotilla.Node.Apis;

/// <summary>
/// A request Kestrel or a body reader refuses on its own (a body over the server's limit, a form
/// over its limits, a query value that does not bind) is the client's fault: its own 4xx with a
/// problem body, never a 500. Shared by the node and the Api (the Api compiles this file).
/// </summary>
internal sealed class BadRequestExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title) = exception switch
        {
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => (StatusCodes.Status413PayloadTooLarge, "Request too large."),
            BadHttpRequestException bad => (bad.StatusCode, "Bad request."),
            InvalidDataException => (StatusCodes.Status400BadRequest, "Bad request."),
            _ => (0, string.Empty),
        };
        if (status == 0 || context.Response.HasStarted)
        {
            return false;
        }

        context.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = exception.Message },
        });
    }
}
