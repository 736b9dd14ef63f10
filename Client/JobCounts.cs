namespace Flotilla.Client;

/// <summary><c>GET /jobs/counts</c>: how many jobs are in each status (finished jobs count until retention removes them).</summary>
/// <param name="Pending">Waiting to run.</param>
/// <param name="Running">Claimed by a node.</param>
/// <param name="Completed">Finished successfully.</param>
/// <param name="Failed">Failed for good.</param>
/// <param name="Cancelled">Cancelled.</param>
public sealed record JobCounts(long Pending, long Running, long Completed, long Failed, long Cancelled);
