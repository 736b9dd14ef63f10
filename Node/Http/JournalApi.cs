using Flotilla.Node.Store;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Flotilla.Node.Http;

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
            .Select(e => new JournalEntryView(e.Seq, e.Kind, e.Request, e.State == JournalState.Intent ? "intent" : "done", e.At, e.Attempt))
            .ToArray();
        return TypedResults.Ok(new JournalView(id, entries));
    }
}

/// <summary>The body of <c>GET /jobs/{id}/journal</c>.</summary>
internal sealed record JournalView(string JobId, IReadOnlyList<JournalEntryView> Entries);

/// <summary>One journaled host call: <paramref name="At"/> is Unix ms on the runner's clock; <paramref name="Attempt"/> the attempt that made it.</summary>
internal sealed record JournalEntryView(int Seq, string Kind, string Request, string State, long At, int Attempt);
