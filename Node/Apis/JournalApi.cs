using Flotilla.Client;
using Flotilla.Node.Store;
using Flotilla.Node.Workflows.Durable;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Flotilla.Node.Apis;

/// <summary>A durable job's journal: what its runs asked the host, in order (responses are not shown: they may be secrets or large).</summary>
internal static class JournalApi
{
    public static IEndpointRouteBuilder MapJournalApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("").WithTags("Jobs").MapGet("/jobs/{id}/journal", GetAsync);
        return app;
    }

    private static async Task<Results<Ok<JournalView>, NotFound<ProblemDetails>>> GetAsync(
        string id, string? consistency, JobStore store, ReadConsistency reads, CancellationToken token)
    {
        await reads.EnsureAsync(consistency, token);
        if (store.GetJob(id) is null)
        {
            return TypedResults.NotFound(new ProblemDetails { Title = "No such job.", Detail = $"There is no job '{id}'.", Status = 404 });
        }

        var entries = store.GetJournal(id)
            .Select(e => new JournalEntryView(e.Seq, e.Kind, e.Request, StateOf(e), DateTimeOffset.FromUnixTimeMilliseconds(e.At), e.Attempt))
            .ToArray();
        return TypedResults.Ok(new JournalView(id, entries));
    }

    // A side effect's result tells more than "done": an error is kept as its code.
    private static string StateOf(JournalEntry entry) => entry switch
    {
        { State: JournalState.Intent } => "intent",
        { Kind: "http", Response: { } response } => CallOutcome.Describe(CallOutcome.Code(response)),
        _ => "done",
    };
}
