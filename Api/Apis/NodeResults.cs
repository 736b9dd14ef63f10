using System.Text.Json;
using Flotilla.Api.Nodes;
using Flotilla.Client;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Flotilla.Api.Apis;

/// <summary>Node errors passed on as problem details (bodies are read by the shared <c>JsonRequestBody</c>).</summary>
internal static class NodeResults
{
    /// <summary>
    /// A node's error as the client's problem: same status, and the node's problem body (title,
    /// detail, validation errors) when it sent one, so a rule only the node knows still explains itself.
    /// </summary>
    public static ProblemHttpResult Problem(NodeAnswer answer, HttpResponse response)
    {
        if (answer.RetryAfter is { } retryAfter)
        {
            response.Headers.RetryAfter = retryAfter;
        }
        else if (answer.Status == System.Net.HttpStatusCode.ServiceUnavailable)
        {
            // The Api already retried for its budget; the client should still come back, not give up.
            response.Headers.RetryAfter = "1";
        }

        HttpValidationProblemDetails? problem = null;
        try
        {
            problem = answer.Body.Length > 0 ? JsonSerializer.Deserialize<HttpValidationProblemDetails>(answer.Body, FlotillaJson.Options) : null;
        }
        catch (JsonException)
        {
            // Not a problem body (a proxy's error page): the generic problem below says enough.
        }

        problem ??= new HttpValidationProblemDetails { Title = $"The cluster answered {(int)answer.Status}." };
        problem.Status = (int)answer.Status;
        return TypedResults.Problem(problem);
    }
}
