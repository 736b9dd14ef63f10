using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace Flotilla.Api.Security;

/// <summary>
/// Authenticates <see cref="ApiKeys.Header"/>: a known key becomes a principal with its scopes;
/// with no keys configured every caller gets every scope (open Api). Missing or unknown key → 401,
/// a key without the route's scope → 403, both as problem details.
/// </summary>
internal sealed class ApiKeyHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeys keys, IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (keys.IsOpen)
        {
            return Task.FromResult(Success("open", ApiScopes.All));
        }

        var presented = Request.Headers[ApiKeys.Header].ToString();
        if (presented.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        return Task.FromResult(keys.Find(presented) is { } key
            ? Success(key.Name, key.Scopes)
            : AuthenticateResult.Fail("The API key is not valid."));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{ApiKeys.Header}\"";
        var presented = Request.Headers.ContainsKey(ApiKeys.Header);
        return WriteAsync(
            StatusCodes.Status401Unauthorized,
            presented ? "The API key is not valid." : "An API key is required.",
            $"Send a key configured in {ApiKeys.Setting} in the {ApiKeys.Header} header.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var needed = Context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).LastOrDefault(p => p is not null);
        return WriteAsync(
            StatusCodes.Status403Forbidden,
            "The API key lacks the scope this route needs.",
            needed is null ? "This key may not use this route." : $"This route needs a key with the scope '{needed}'.");
    }

    private Task WriteAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        return problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        }).AsTask();
    }

    private static AuthenticateResult Success(string name, IEnumerable<string> scopes)
    {
        var identity = new ClaimsIdentity(
            scopes.Select(s => new Claim(ApiScopes.ClaimType, s)).Prepend(new Claim(ClaimTypes.Name, name)), SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}
