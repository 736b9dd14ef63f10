using System.Text.Json;
using System.Text.Json.Serialization;
using Flotilla.Client;

namespace Flotilla.Node.Apis;

/// <summary>
/// One of the independent submits in <c>POST /cluster/submit</c>: the Api gathers the single
/// <c>POST /jobs</c> requests that arrive while its earlier ones are in flight and sends them in
/// one request, so a single submit does not cost an HTTP round trip of its own. Each keeps its
/// own trace (the client request's <c>traceparent</c>) and gets its own answer. Compiled into the
/// Api too: one shape on both ends. Strict, as the job inside it: an unknown field is a 400.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record SubmitItem(string? TraceParent, SubmitJobRequest? Job);

/// <summary>
/// An item's answer: the status a lone <c>POST /jobs</c> would have answered (202, 400, 409)
/// and its body (the job, or problem details).
/// </summary>
internal sealed record SubmitItemAnswer(int Status, JsonElement Body);
