using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Flotilla.Client;

namespace Flotilla.Cluster.Tests;

/// <summary>The real Api process in front of three real nodes.</summary>
public sealed class ApiFrontTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly TestCluster _cluster = TestCluster.Create();
    private ApiProcess? _api;

    private ApiProcess Api => _api!;

    public async Task InitializeAsync()
    {
        try
        {
            await _cluster.StartAsync();
            _api = await ApiProcess.StartAsync(_cluster.Nodes);
            await _cluster.WaitForAsync(() => Api.IsHealthyAsync(), "the Api healthy", Timeout);
        }
        catch (Exception ex)
        {
            // xunit does not dispose a class whose InitializeAsync failed: stop the processes here.
            var output = _api?.RecentOutput();
            await DisposeAsync();
            throw new InvalidOperationException($"Start failed.{Environment.NewLine}{output}", ex);
        }
    }

    public async Task DisposeAsync()
    {
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task TheApiTakesJobsValidatesThemAndKeepsTakingThemAfterTheLeaderDies()
    {
        // A job through the Api: 202, a Location that reads it back through the Api.
        using var accepted = await Api.Http.PostAsJsonAsync("jobs", new { workflow = "echo", payload = new { hi = 1 } });
        Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, await Describe(accepted));
        var job = (await accepted.Content.ReadFromJsonAsync<Job>(FlotillaJson.Options))!;
        Assert.Equal($"/jobs/{job.JobId}", accepted.Headers.Location?.ToString());
        var read = await Api.Http.GetFromJsonAsync<Job>(accepted.Headers.Location!.ToString().TrimStart('/') + "?consistency=strong", FlotillaJson.Options);
        Assert.Equal(job.JobId, read!.JobId);

        // A bad job is a validation problem naming the field, and no node stores it.
        var before = await _cluster.Nodes[0].GetStateAsync();
        using var bad = await Api.Http.PostAsJsonAsync("jobs", new { workflow = "echo", payload = 1, priority = 5000 });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        var problem = await bad.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("priority", out _), problem.ToString());
        Assert.Equal(before.Jobs.Values.Sum(), (await _cluster.Nodes[0].GetStateAsync()).Jobs.Values.Sum());

        // Kill the leader: the Api finds the new one (or goes through a survivor) and still accepts.
        var leader = _cluster[await _cluster.WaitForAgreedLeaderAsync(_cluster.Nodes, Timeout)];
        leader.Kill();
        var after = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await Api.Http.PostAsJsonAsync("jobs", new { workflow = "echo", payload = i });
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"write {i} after the leader died: {await Describe(response)}");
            after.Add((await response.Content.ReadFromJsonAsync<Job>(FlotillaJson.Options))!.JobId);
        }

        foreach (var id in after)
        {
            using var stored = await Api.Http.GetAsync($"jobs/{id}?consistency=strong");
            Assert.True(stored.StatusCode == HttpStatusCode.OK, await Describe(stored));
        }
    }

    private async Task<string> Describe(HttpResponseMessage response) =>
        $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}{Environment.NewLine}{Api.RecentOutput()}{Environment.NewLine}{_cluster.Diagnostics()}";
}
