using Microsoft.AspNetCore.Authentication;

namespace Flotilla.Api.Security;

internal static class ApiKeyExtensions
{
    /// <summary>
    /// API keys (<c>Api:Keys</c>, header <c>X-Api-Key</c>) and one policy per scope. The fallback
    /// policy needs a valid key, so a route added later is protected unless it opts out with
    /// <c>.AllowAnonymous()</c> (as /health, /alive, /openapi and /scalar do) or names its scope.
    /// </summary>
    public static IHostApplicationBuilder AddApiKeys(this IHostApplicationBuilder builder)
    {
        var keys = new ApiKeys(builder.Configuration);
        builder.Services.AddSingleton(keys);
        builder.Services.AddAuthentication(ApiKeyHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeyHandler.SchemeName, null);
        var authorization = builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder(ApiKeyHandler.SchemeName).RequireAuthenticatedUser().Build());
        foreach (var scope in ApiScopes.All)
        {
            authorization.AddPolicy(scope, p => p.AddAuthenticationSchemes(ApiKeyHandler.SchemeName).RequireClaim(ApiScopes.ClaimType, scope));
        }

        return builder;
    }

    /// <summary>Authentication and authorization in the pipeline; an open Api says so in the log.</summary>
    public static WebApplication UseApiKeys(this WebApplication app)
    {
        if (app.Services.GetRequiredService<ApiKeys>().IsOpen)
        {
            LogMessages.ApiOpen(app.Logger);
        }

        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }
}
