using Flotilla.Client;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="FlotillaClient"/> as a typed <see cref="HttpClient"/> client.</summary>
public static class FlotillaClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="FlotillaClient"/> for the Api at <paramref name="baseAddress"/>. Under
    /// Aspire, pass <c>"https+http://api"</c>: service discovery (which <c>AddServiceDefaults()</c>
    /// adds to every HttpClient) resolves it to the api resource's endpoint.
    /// </summary>
    /// <returns>The HttpClient builder, to add handlers (resilience, auth) of your own.</returns>
    public static IHttpClientBuilder AddFlotillaClient(this IServiceCollection services, string baseAddress) =>
        services.AddFlotillaClient(options => options.BaseAddress = new Uri(baseAddress));

    /// <summary>Registers <see cref="FlotillaClient"/> with settings (<see cref="FlotillaClientOptions.BaseAddress"/> is required).</summary>
    public static IHttpClientBuilder AddFlotillaClient(this IServiceCollection services, Action<FlotillaClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<FlotillaClientOptions>()
            .Configure(configure)
            .Validate(o => o.BaseAddress is not null, "FlotillaClientOptions.BaseAddress is required (e.g. https+http://api under Aspire).");
        return services
            .AddHttpClient(nameof(FlotillaClient), (sp, http) => http.BaseAddress = sp.GetRequiredService<IOptions<FlotillaClientOptions>>().Value.BaseAddress)
            .AddTypedClient((http, sp) => new FlotillaClient(http, sp.GetRequiredService<IOptions<FlotillaClientOptions>>().Value));
    }
}
