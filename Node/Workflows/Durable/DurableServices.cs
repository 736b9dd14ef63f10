using Microsoft.Extensions.Options;

namespace Flotilla.Node.Workflows.Durable;

/// <summary>What durable workflows need from the container: the <c>Durable:*</c> settings, the outbound HTTP client and the <c>flotilla</c> host module.</summary>
internal static class DurableServices
{
    public static IServiceCollection AddDurableWorkflows(this IServiceCollection services)
    {
        services.AddOptions<DurableOptions>()
            .BindConfiguration(DurableOptions.Section)
            .Validate(o => o.ParkThresholdMs > 0, "Durable:ParkThresholdMs must be positive.")
            .Validate(o => o.HttpTimeoutMs > 0, "Durable:HttpTimeoutMs must be positive.")
            .ValidateOnStart();

        // No resilience handler (a retried POST is a repeated side effect), no redirects (they could leave the allow list).
#pragma warning disable EXTEXP0001 // The one way to opt a client out of ServiceDefaults' standard resilience (marked experimental in 10.x).
        services.AddHttpClient(HttpCalls.ClientName, (sp, client) =>
            {
                client.Timeout = TimeSpan.FromMilliseconds(sp.GetRequiredService<IOptions<DurableOptions>>().Value.HttpTimeoutMs);
            })
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false })
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        services.AddSingleton<HttpCalls>();
        services.AddSingleton<IHostModule, DurableHostModule>();
        return services;
    }
}
