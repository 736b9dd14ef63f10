namespace Flotilla.Client;

/// <summary>A page of <c>GET /jobs</c>, ordered by job id; pass <see cref="NextAfter"/> as <c>after</c> for the next page.</summary>
/// <param name="Jobs">The jobs of this page.</param>
/// <param name="NextAfter">The cursor of the next page; null on the last page.</param>
public sealed record JobPage(IReadOnlyList<Job> Jobs, string? NextAfter);
