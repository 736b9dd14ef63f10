namespace Flotilla.Node.Security;

/// <summary>
/// Refuses every <c>/cluster/*</c> request but <c>GET /cluster/health</c> (the orchestrator and
/// the Api gate on it) without the cluster secret: 401 with a problem body, before routing
/// binds a body, so an unauthenticated caller costs nothing. By path, so a new cluster route is
/// protected without anyone remembering to.
/// </summary>
internal static partial class ClusterSecretMiddleware
{
    private static readonly PathString ClusterRoutes = "/cluster";
    private static readonly PathString Health = "/cluster/health";

    public static IApplicationBuilder UseClusterSecret(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (!path.StartsWithSegments(ClusterRoutes) || IsHealth(path))
            {
                await next(context);
                return;
            }

            var secret = context.RequestServices.GetRequiredService<ClusterSecret>();
            if (secret.Accepts(context.Request.Headers[ClusterSecret.Header]))
            {
                await next(context);
                return;
            }

            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ClusterSecretMiddleware));
            LogRefused(logger, context.Request.Method, path.Value ?? "", context.Connection.RemoteIpAddress?.ToString() ?? "?");
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status401Unauthorized,
                    Title = "The cluster secret is missing or wrong.",
                    Detail = $"Node-to-node routes need the header {ClusterSecret.Header} with the cluster's secret (Cluster:Secret).",
                },
            });
        });

    // The health route and only it; "/cluster/health/" is the same route to the router.
    private static bool IsHealth(PathString path) =>
        path.StartsWithSegments(Health, out var rest) && (!rest.HasValue || rest.Value == "/");

    [LoggerMessage(EventId = 1701, Level = LogLevel.Warning, Message = "Refused {Method} {Path} from {Remote}: no or wrong cluster secret")]
    private static partial void LogRefused(ILogger logger, string method, string path, string remote);
}
