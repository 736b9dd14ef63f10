namespace Flotilla.Api.Security;

/// <summary>
/// What an API key may do (<c>Api:Keys</c>, <c>key:scope+scope</c>; a key without scopes has all).
/// Each scope is also the name of the authorization policy that requires it, so a route says
/// <c>.RequireAuthorization(ApiScopes.JobsRead)</c>.
/// </summary>
internal static class ApiScopes
{
    /// <summary>Submit and cancel jobs.</summary>
    public const string JobsWrite = "jobs:write";

    /// <summary>Read jobs, the workflow list and the cluster's health.</summary>
    public const string JobsRead = "jobs:read";

    /// <summary>Register or replace a workflow.</summary>
    public const string WorkflowsAdmin = "workflows:admin";

    /// <summary>The claim type a key's scopes travel in.</summary>
    public const string ClaimType = "scope";

    public static readonly IReadOnlyList<string> All = [JobsWrite, JobsRead, WorkflowsAdmin];
}
