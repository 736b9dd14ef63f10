using System.Net;
using Flotilla.Api.Workflows;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Flotilla.Api.Tests;

public sealed class WorkflowCatalogTests
{
    private readonly FakeNodes _nodes = new();

    private WorkflowCatalog Catalog(TimeSpan? ttl = null)
    {
        var options = FakeNodes.FastRetries;
        options.WorkflowCacheTtl = ttl ?? TimeSpan.FromMinutes(1);
        return new WorkflowCatalog(_nodes.Client(options).Client, Options.Create(options), TimeProvider.System, NullLogger<WorkflowCatalog>.Instance);
    }

    [Fact]
    public async Task KnowsTheRegisteredWorkflows()
    {
        _nodes.Handle = _ => FakeNodes.Json(HttpStatusCode.OK, FakeNodes.Workflows("echo", "fail"));
        var catalog = Catalog();

        Assert.True(await catalog.IsKnownAsync("echo", default));
        Assert.True(await catalog.IsKnownAsync("fail", default));
    }

    [Fact]
    public async Task CannotTellWhenTheNodesHaveNoWorkflowsRoute()
    {
        _nodes.Handle = _ => new HttpResponseMessage(HttpStatusCode.NotFound);

        Assert.Null(await Catalog().IsKnownAsync("echo", default));
    }

    [Fact]
    public async Task CannotTellWhenNoNodeAnswers()
    {
        _nodes.Handle = _ => throw FakeNodes.Refused();

        Assert.Null(await Catalog().IsKnownAsync("echo", default));
    }

    [Fact]
    public async Task ReusesTheListForABurstOfSubmissions()
    {
        _nodes.Handle = _ => FakeNodes.Json(HttpStatusCode.OK, FakeNodes.Workflows("echo"));
        var catalog = Catalog();

        for (var i = 0; i < 20; i++)
        {
            Assert.True(await catalog.IsKnownAsync("echo", default));
        }

        Assert.Single(_nodes.To("workflows"));
    }

    [Fact]
    public async Task AnUnknownNameIsLookedUpAgainOnceTheListIsASecondOld()
    {
        // "new" is registered (through another Api) after this one cached the list.
        var registered = FakeNodes.Workflows("echo");
        _nodes.Handle = _ => FakeNodes.Json(HttpStatusCode.OK, registered);
        var catalog = Catalog();
        Assert.False(await catalog.IsKnownAsync("new", default));

        registered = FakeNodes.Workflows("echo", "new");
        await Task.Delay(TimeSpan.FromSeconds(1.1));

        Assert.True(await catalog.IsKnownAsync("new", default));
        Assert.Equal(2, _nodes.To("workflows").Count());
    }

    [Fact]
    public async Task InvalidateDropsTheCachedList()
    {
        var registered = FakeNodes.Workflows("echo");
        _nodes.Handle = _ => FakeNodes.Json(HttpStatusCode.OK, registered);
        var catalog = Catalog();
        Assert.False(await catalog.IsKnownAsync("new", default));

        registered = FakeNodes.Workflows("echo", "new");
        catalog.Invalidate();

        Assert.True(await catalog.IsKnownAsync("new", default));
    }
}
