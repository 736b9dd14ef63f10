using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Flotilla.Api.Security;

internal static class WriteRateLimitExtensions
{
    /// <summary>The policy the write routes name (<c>.RequireRateLimiting(WriteRateLimitExtensions.Policy)</c>).</summary>
    public const string Policy = "writes";

    /// <summary>
    /// ASP.NET Core's rate limiter on writes, partitioned by API key (the authenticated key's
    /// name; one partition for everyone when the Api is open). Over the limit → 429 with
    /// <c>Retry-After</c> and a problem-details body; nothing reaches a node.
    /// </summary>
    public static IHostApplicationBuilder AddWriteRateLimit(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(RateLimitOptions.Section).Get<RateLimitOptions>() ?? new RateLimitOptions();
        if (options.PermitsPerSecond < 0 || options.Burst < 0)
        {
            // Read here, at composition, not through IOptions: refuse it as early as the bad value is seen.
            throw new OptionsValidationException(RateLimitOptions.Section, typeof(RateLimitOptions), ["Api:RateLimit:PermitsPerSecond and Api:RateLimit:Burst must not be negative."]);
        }

        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = RejectAsync;
            limiter.AddPolicy(Policy, context =>
            {
                if (options.PermitsPerSecond <= 0)
                {
                    return RateLimitPartition.GetNoLimiter("off");
                }

                // After authentication: the key's name (key1, key2...), never the key itself.
                var partition = context.User.Identity?.IsAuthenticated == true ? context.User.Identity.Name ?? "anonymous" : "anonymous";
                return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = Math.Max(options.Burst, options.PermitsPerSecond),
                    TokensPerPeriod = options.PermitsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
        });
        return builder;
    }

    private static async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken token)
    {
        var http = rejected.HttpContext;
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) && wait > TimeSpan.Zero
            ? (int)Math.Ceiling(wait.TotalSeconds)
            : 1;
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many writes.",
                Detail = $"This API key has used its write rate ({RateLimitOptions.Section}); retry after {retryAfter} s.",
            },
        });
    }
}
