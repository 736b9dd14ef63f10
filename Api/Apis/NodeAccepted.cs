using System.Reflection;
using Flotilla.Api.Nodes;
using Microsoft.AspNetCore.Http.Metadata;

namespace Flotilla.Api.Apis;

/// <summary>
/// A node's 202 passed on as the bytes it sent. The node writes the contract's shape with the
/// same JSON options, so reading it into <typeparamref name="T"/> and writing it again would
/// cost the Api a parse and a serialization per job of a batch and change nothing.
/// <typeparamref name="T"/> is what the endpoint documents.
/// </summary>
internal sealed class NodeAccepted<T>(NodeAnswer answer, string location) : IResult, IEndpointMetadataProvider
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status202Accepted;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = answer.Body.Length;
        response.Headers.Location = location;
        await response.Body.WriteAsync(answer.Body, httpContext.RequestAborted);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status202Accepted, typeof(T), ["application/json"]));
}
