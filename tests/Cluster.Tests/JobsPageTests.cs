using System.Text.RegularExpressions;
using Flotilla.Client;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// The Api's jobs page (<c>/ui</c>) in a real browser: Playwright drives Debian's chromium
/// (<c>apt-get install chromium</c>; <c>FLOTILLA_CHROMIUM</c> names another binary) against the
/// real Api and three nodes.
/// </summary>
[Collection(ApiCluster.Collection)]
public sealed class JobsPageTests(ApiCluster fixture) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private IPage _page = null!;

    public async Task InitializeAsync()
    {
        var chromium = Environment.GetEnvironmentVariable("FLOTILLA_CHROMIUM") ?? "/usr/bin/chromium";
        if (!File.Exists(chromium))
        {
            throw new FileNotFoundException($"No chromium at {chromium}: apt-get install chromium (bash .ci/run does), or set FLOTILLA_CHROMIUM.");
        }

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = chromium, Headless = true });
        _page = await _browser.NewPageAsync();
        _page.SetDefaultTimeout((float)Timeout.TotalMilliseconds);
        SetDefaultExpectTimeout((float)Timeout.TotalMilliseconds);
        await _page.GotoAsync(new Uri(fixture.Api.Url, "ui").ToString());
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
    }

    [Fact]
    public async Task TheCountsChangeAfterJobsRun()
    {
        var completed = _page.Locator("#count-completed");
        await Expect(completed).ToHaveTextAsync(new Regex(@"^\d+$"));
        var before = int.Parse(await completed.InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture);

        var jobs = await fixture.Client.EnqueueBatchAsync("echo", Enumerable.Range(0, 3).Select(i => (object?)new { page = i }));
        foreach (var job in jobs)
        {
            await fixture.Client.WaitAsync(job.JobId, Timeout);
        }

        // The page refreshes itself; nothing here reloads it.
        await _page.WaitForFunctionAsync(
            "n => Number(document.querySelector('#count-completed').textContent) >= n", before + 3);
        await Expect(_page.Locator($"tr[data-job-id='{jobs[0].JobId}'] td.status")).ToHaveTextAsync("completed");
    }

    [Fact]
    public async Task AJobCanBeCancelledFromThePage()
    {
        var job = await fixture.Client.EnqueueAsync("echo", new { cancel = "me" }, new EnqueueOptions { Delay = TimeSpan.FromHours(1) });
        var row = _page.Locator($"tr[data-job-id='{job.JobId}']");
        await Expect(row.Locator("td.status")).ToHaveTextAsync("pending");

        await row.Locator("button.cancel").ClickAsync();

        await Expect(row.Locator("td.status")).ToHaveTextAsync("cancelled");
        Assert.Equal(JobStatus.Cancelled, (await fixture.Client.GetAsync(job.JobId))!.Status);
    }

    [Fact]
    public async Task AJobsDetailShowsWhatRanWhereAndItsTraceAndRetrySubmitsACopy()
    {
        var job = await fixture.Client.EnqueueAsync("echo", new { detail = "shown" });
        var done = await fixture.Client.WaitAsync(job.JobId, Timeout);

        await _page.Locator($"tr[data-job-id='{job.JobId}']").ClickAsync();

        var detail = _page.Locator("#detail");
        await Expect(_page.Locator("#detail-id")).ToHaveTextAsync(job.JobId);
        await Expect(detail).ToContainTextAsync("\"detail\": \"shown\"");
        await Expect(detail).ToContainTextAsync(done.CompletedBy!);
        Assert.NotNull(done.TraceId);
        await Expect(detail).ToContainTextAsync(done.TraceId!);

        await _page.Locator("#detail-retry").ClickAsync();

        await Expect(_page.Locator("#detail-message")).ToContainTextAsync("retried as ");
        var copyId = (await _page.Locator("#detail-message").InnerTextAsync()).Split("retried as ")[1].Trim();
        var copy = await fixture.Client.WaitAsync(copyId, Timeout);
        Assert.Equal(JobStatus.Completed, copy.Status);
        Assert.Equal("shown", copy.Payload.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task TheClusterPanelShowsEveryNodeTheLeaderAndTheWorkflows()
    {
        await Expect(_page.Locator("#nodes tr")).ToHaveCountAsync(3);
        foreach (var node in fixture.Cluster.Nodes)
        {
            await Expect(_page.Locator($"#nodes tr[data-node='{node.NodeId}']")).ToContainTextAsync("healthy");
        }

        var health = await fixture.Client.GetClusterHealthAsync();
        await Expect(_page.Locator("#cluster-summary")).ToContainTextAsync(health.Leader!);
        await Expect(_page.Locator("#workflows")).ToContainTextAsync("echo");
    }
}
