namespace Flotilla.Api.Cluster;

/// <summary>A node's answer passed on to the caller as it is: status, body and the headers that matter.</summary>
internal sealed class RelayedResponse(HttpResponseMessage response) : IResult
{
    private static readonly string[] Headers = ["Location", "Retry-After"];

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        using (response)
        {
            httpContext.Response.StatusCode = (int)response.StatusCode;
            foreach (var header in Headers)
            {
                if (response.Headers.TryGetValues(header, out var values))
                {
                    httpContext.Response.Headers[header] = values.ToArray();
                }
            }

            if (response.Content.Headers.ContentType is { } contentType)
            {
                httpContext.Response.ContentType = contentType.ToString();
            }

            await response.Content.CopyToAsync(httpContext.Response.Body, httpContext.RequestAborted);
        }
    }
}
