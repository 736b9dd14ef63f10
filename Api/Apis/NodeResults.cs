using System.Text.Json;
using Flotilla.Api.Cluster;
using Flotilla.Client;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Flotilla.Api.Apis;

/// <summary>Shared pieces of the route handlers: bounded bodies, and node errors passed on as problem details.</summary>
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

    /// <summary>Reads the body up to <paramref name="limit"/> bytes; a larger one is a 413 before it is all read.</summary>
    public static async Task<(byte[]? Body, ProblemHttpResult? Problem)> ReadBodyAsync(HttpRequest request, int limit, CancellationToken token)
    {
        var tooLarge = TypedResults.Problem($"The body is larger than {limit} bytes.", statusCode: 413, title: "Request too large.");
        if (request.ContentLength > limit)
        {
            return (null, tooLarge);
        }

        using var body = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, token)) > 0)
        {
            if (body.Length + read > limit)
            {
                return (null, tooLarge);
            }

            body.Write(chunk, 0, read);
        }

        return (body.ToArray(), null);
    }

    /// <summary>Parses a strict JSON body; a syntax error or an unknown field is a 400 naming it.</summary>
    public static (T? Value, ProblemHttpResult? Problem) ParseStrict<T>(byte[] body)
        where T : class
    {
        try
        {
            var value = body.Length == 0 ? null : JsonSerializer.Deserialize<T>(body, FlotillaJson.Options);
            return value is null
                ? (null, TypedResults.Problem("The body is empty or null.", statusCode: 400, title: "Expected a JSON body."))
                : (value, null);
        }
        catch (JsonException ex)
        {
            return (null, TypedResults.Problem(ex.Message, statusCode: 400, title: "The body is not valid JSON for this route."));
        }
    }
}
