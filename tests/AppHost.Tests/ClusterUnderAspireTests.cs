using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Flotilla.AppHost.Tests;

public sealed class ClusterUnderAspireTests(FlotillaApp flotilla) : IClassFixture<FlotillaApp>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TheThreeNodesFormOneClusterAndAJobSubmittedToTheApiCompletes()
    {
        await AssertOneClusterAsync();

        using var api = flotilla.App.CreateHttpClient("api");
        using var response = await api.PostAsJsonAsync("/jobs", new { workflow = "echo", payload = new { hello = "aspire" } });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("job_id").GetString()!;
        foreach (var node in flotilla.NodeNames)
        {
            await Eventually(async () =>
            {
                using var client = flotilla.App.CreateHttpClient(node, "http");
                using var job = await client.GetAsync($"/jobs/{id}");
                return job.StatusCode == HttpStatusCode.OK;
            }, $"job {id} on {node}");
        }

        JsonElement done = default;
        await Eventually(async () =>
        {
            done = await api.GetFromJsonAsync<JsonElement>($"/jobs/{id}");
            return done.GetProperty("status").GetString() == "completed";
        }, $"job {id} to complete");
        Assert.Equal("aspire", done.GetProperty("result").GetProperty("payload").GetProperty("hello").GetString());
        Assert.Contains(done.GetProperty("completed_by").GetString(), flotilla.NodeNames);
    }

    [Fact]
    public async Task StoppedAndStartedOnTheSameDataItFormsAgainWithItsJobs()
    {
        string id;
        using (var api = flotilla.App.CreateHttpClient("api"))
        {
            using var response = await api.PostAsJsonAsync("/jobs", new { workflow = "echo", payload = "kept" });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("job_id").GetString()!;
        }

        await flotilla.RestartAsync();

        await AssertOneClusterAsync();
        foreach (var node in flotilla.NodeNames)
        {
            using var client = flotilla.App.CreateHttpClient(node, "http");
            using var job = await client.GetAsync($"/jobs/{id}?consistency=strong");
            Assert.Equal(HttpStatusCode.OK, job.StatusCode);
        }
    }

    [Fact]
    public async Task TheDashboardCommandsSubmitDemoJobsAndTellAndChangeTheLeader()
    {
        await AssertOneClusterAsync();
        using var api = flotilla.App.CreateHttpClient("api");
        var before = await TotalJobsAsync(api);

        var submitted = await flotilla.App.ResourceCommands.ExecuteCommandAsync(Resource("api"), "submit-demo-jobs");

        Assert.True(submitted.Success, submitted.Message);
        Assert.Equal(before + 100, await TotalJobsAsync(api));

        var answers = new Dictionary<string, string>();
        foreach (var node in flotilla.NodeNames)
        {
            var result = await flotilla.App.ResourceCommands.ExecuteCommandAsync(Resource(node), "leader");
            Assert.True(result.Success, result.Message);
            answers[node] = result.Message!;
        }

        var leader = Assert.Single(answers, a => a.Value.Contains("is the leader", StringComparison.Ordinal)).Key;
        var follower = flotilla.NodeNames.First(n => n != leader);
        Assert.False((await flotilla.App.ResourceCommands.ExecuteCommandAsync(Resource(follower), "step-down")).Success);

        var stepDown = await flotilla.App.ResourceCommands.ExecuteCommandAsync(Resource(leader), "step-down");

        Assert.True(stepDown.Success, stepDown.Message);
        await AssertOneClusterAsync();
    }

    [Fact]
    public async Task TheApiResourceLinksToTheJobsPage()
    {
        using var api = flotilla.App.CreateHttpClient("api");
        using var page = await api.GetAsync("/ui");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<title>Flotilla", await page.Content.ReadAsStringAsync());
        // The link the dashboard shows on the api resource.
        using var wait = new CancellationTokenSource(Timeout);
        var shown = await flotilla.App.ResourceNotifications.WaitForResourceAsync(
            "api", e => e.Snapshot.Urls.Any(u => u.DisplayProperties.DisplayName == "Jobs page"), wait.Token);
        var link = shown.Snapshot.Urls.Single(u => u.DisplayProperties.DisplayName == "Jobs page");
        Assert.EndsWith("/ui", link.Url, StringComparison.Ordinal);
    }

    private IResource Resource(string name) =>
        flotilla.App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == name);

    private static async Task<long> TotalJobsAsync(HttpClient api)
    {
        var counts = await api.GetFromJsonAsync<JsonElement>("/jobs/counts");
        return counts.EnumerateObject().Sum(c => c.Value.GetInt64());
    }

    // One cluster: every node sees three members and the same leader. Right after an election
    // (a step-down) nodes learn the new leader one after another, so agreement is awaited too.
    private async Task AssertOneClusterAsync()
    {
        var leaders = new Dictionary<string, string?>();
        await Eventually(async () =>
        {
            leaders.Clear();
            foreach (var node in flotilla.NodeNames)
            {
                using var client = flotilla.App.CreateHttpClient(node, "http");
                var health = await client.GetFromJsonAsync<JsonElement>("/cluster/health");
                Assert.Equal(node, health.GetProperty("node_id").GetString());
                if (!health.GetProperty("has_leader").GetBoolean() || health.GetProperty("node_count").GetInt32() != 3)
                {
                    return false;
                }

                leaders[node] = health.GetProperty("leader").GetString();
            }

            return leaders.Values.Distinct().Count() == 1;
        }, "every node to see three members and the same leader");

        Assert.Single(leaders.Values.Distinct());
    }

    private static async Task Eventually(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(250);
        }

        Assert.Fail($"Timed out waiting for {what}.");
    }
}
