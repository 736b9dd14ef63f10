using Flotilla.Api.Nodes;
using Flotilla.Api.Workflows;
using Flotilla.Client;
using Scalar.AspNetCore;

namespace Flotilla.Api.Extensions;

internal static class ApiExtensions
{
    /// <summary>The nodes, leader discovery, the node client, the workflow cache and the /health gate.</summary>
    public static IHostApplicationBuilder AddClusterAccess(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ApiOptions>()
            .Bind(builder.Configuration.GetSection(ApiOptions.Section))
            .Validate(o => o.InitialBackoff > TimeSpan.Zero && o.MaxBackoff >= o.InitialBackoff, "Api:InitialBackoff must be positive and Api:MaxBackoff at least as long.")
            .Validate(
                o => o.WriteRetryBudget >= TimeSpan.Zero && o.LeaderElectionWait >= TimeSpan.Zero && o.WorkflowCacheTtl >= TimeSpan.Zero,
                "Api:WriteRetryBudget, Api:LeaderElectionWait and Api:WorkflowCacheTtl must not be negative.")
            .ValidateOnStart();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<NodeDirectory>();
        services.AddSingleton<LeaderLocator>();
        services.AddSingleton<NodeClient>();
        services.AddSingleton<SubmitCoalescer>();
        services.AddSingleton<WorkflowCatalog>();
        services.AddHealthChecks().AddCheck<LeaderKnownHealthCheck>("cluster-leader");
        return builder;
    }

    /// <summary>snake_case JSON, and problem details for every error, the cluster's included.</summary>
    public static IHostApplicationBuilder AddHttpConventions(this IHostApplicationBuilder builder)
    {
        builder.Services.ConfigureHttpJsonOptions(o => FlotillaJson.Configure(o.SerializerOptions));
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ClusterUnavailableHandler>();
        builder.Services.AddExceptionHandler<Flotilla.Node.Apis.BadRequestExceptionHandler>();
        builder.Services.AddOpenApi();
        return builder;
    }

    /// <summary>The OpenAPI document at /openapi/v1.json and a browsable reference at /scalar, in every environment, without a key.</summary>
    public static WebApplication MapApiReference(this WebApplication app)
    {
        app.MapOpenApi().AllowAnonymous();
        app.MapScalarApiReference().AllowAnonymous();
        return app;
    }
}
