using Flotilla.Api.Extensions;
using Flotilla.Api.Nodes;
using Flotilla.Api.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Flotilla.Api.Tests;

/// <summary>An Api setting out of range stops the Api at start with the key's name (it was used as it came).</summary>
public sealed class ApiOptionsTests
{
    [Theory]
    [InlineData("Api:InitialBackoff", "00:00:00", "Api:InitialBackoff must be positive")]
    [InlineData("Api:MaxBackoff", "00:00:00.010", "Api:MaxBackoff at least as long")]
    [InlineData("Api:WriteRetryBudget", "-00:00:01", "Api:WriteRetryBudget, Api:LeaderElectionWait and Api:WorkflowCacheTtl must not be negative")]
    [InlineData("Api:LeaderElectionWait", "-00:00:01", "must not be negative")]
    [InlineData("Api:WorkflowCacheTtl", "-00:00:01", "must not be negative")]
    public void AnOutOfRangeRetryOrCacheSettingIsRefusedByName(string key, string value, string reason)
    {
        var builder = Builder((key, value));
        builder.AddClusterAccess();
        using var services = builder.Services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<ApiOptions>>().Value);

        Assert.Contains(reason, error.Message);
    }

    [Theory]
    [InlineData("Api:RateLimit:PermitsPerSecond")]
    [InlineData("Api:RateLimit:Burst")]
    public void ANegativeRateLimitIsRefusedByName(string key)
    {
        var builder = Builder((key, "-1"));

        var error = Assert.Throws<OptionsValidationException>(() => builder.AddWriteRateLimit());

        Assert.Contains("Api:RateLimit:PermitsPerSecond and Api:RateLimit:Burst must not be negative", error.Message);
    }

    [Fact]
    public void ZeroWaitsAndAnUnlimitedRateAreAllowed()
    {
        var builder = Builder(("Api:LeaderElectionWait", "00:00:00"), ("Api:WorkflowCacheTtl", "00:00:00"), ("Api:WriteRetryBudget", "00:00:00"), ("Api:RateLimit:PermitsPerSecond", "0"));
        builder.AddClusterAccess();
        builder.AddWriteRateLimit();
        using var services = builder.Services.BuildServiceProvider();

        Assert.Equal(TimeSpan.Zero, services.GetRequiredService<IOptions<ApiOptions>>().Value.LeaderElectionWait);
    }

    private static WebApplicationBuilder Builder(params (string Key, string Value)[] settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        return builder;
    }
}
