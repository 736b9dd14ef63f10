using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;

namespace Flotilla.Client.Tests;

/// <summary>The client's own logic around HTTP (the cluster tests run it against real nodes).</summary>
public sealed class FlotillaClientTests
{
    private const string JobJson = """{"job_id":"j1","status":"pending","workflow":"echo","queue":"default","priority":0,"payload":null,"attempts":0,"max_attempts":5,"claimed_by":null,"completed_by":null,"run_at":"2026-01-01T00:00:00+00:00","created_at":"2026-01-01T00:00:00+00:00","updated_at":"2026-01-01T00:00:00+00:00","lease_until":null,"result":null,"error":null,"idempotency_key":"k","timeout_ms":null}""";

    [Fact]
    public async Task ARefusalBecomesOneExceptionWithTheProblemDetails()
    {
        var server = new Stub(_ => Answer(HttpStatusCode.BadRequest, """{"title":"The job is not valid.","status":400,"errors":{"workflow":["unknown workflow 'nope'."]}}""", "application/problem+json"));
        var client = new FlotillaClient(new HttpClient(server) { BaseAddress = new Uri("http://flotilla.test") });

        var refused = await Assert.ThrowsAsync<FlotillaException>(() => client.EnqueueAsync("nope", new { a = 1 }));

        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal("The job is not valid.", refused.Title);
        Assert.Equal(["unknown workflow 'nope'."], refused.Errors["workflow"]);
    }

    [Fact]
    public async Task AJobThatBreaksTheRulesIsRefusedWithoutARoundTrip()
    {
        var server = new Stub(_ => Answer(HttpStatusCode.Accepted, JobJson));
        var client = new FlotillaClient(new HttpClient(server) { BaseAddress = new Uri("http://flotilla.test") });

        var refused = await Assert.ThrowsAsync<FlotillaException>(() => client.EnqueueAsync("echo", 1, new EnqueueOptions { Priority = 5000 }));

        Assert.Contains("priority", refused.Errors.Keys);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task AnUnknownOutcomeIsSentAgainOnlyWithAnIdempotencyKey()
    {
        var calls = 0;
        var server = new Stub(_ => ++calls == 1 ? Answer(HttpStatusCode.GatewayTimeout, "{}") : Answer(HttpStatusCode.Accepted, JobJson));
        var client = new FlotillaClient(new HttpClient(server) { BaseAddress = new Uri("http://flotilla.test") });

        var job = await client.EnqueueAsync("echo", 1, new EnqueueOptions { IdempotencyKey = "k" });
        Assert.Equal("j1", job.JobId);
        Assert.Equal(2, server.Requests.Count);

        calls = 0;
        server.Requests.Clear();
        var unknown = await Assert.ThrowsAsync<FlotillaException>(() => client.EnqueueAsync("echo", 1));
        Assert.Equal(HttpStatusCode.GatewayTimeout, unknown.Status);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task RoutesAreRelativeToABasePath()
    {
        var server = new Stub(_ => Answer(HttpStatusCode.OK, JobJson));
        var client = new FlotillaClient(new HttpClient(server) { BaseAddress = new Uri("http://flotilla.test/jobs-api") }, new FlotillaClientOptions { ApiKey = "secret" });

        await client.GetAsync("j 1");

        var request = Assert.Single(server.Requests);
        Assert.Equal("http://flotilla.test/jobs-api/jobs/j%201", request.RequestUri!.AbsoluteUri);
        Assert.Equal("secret", request.Headers.GetValues("X-Api-Key").Single());
    }

    [Fact]
    public async Task AddFlotillaClientGivesATypedClientOnTheConfiguredAddress()
    {
        var server = new Stub(_ => Answer(HttpStatusCode.NotFound, "{}"));
        var services = new ServiceCollection();
        services.AddFlotillaClient("http://api.test:5080").ConfigurePrimaryHttpMessageHandler(() => server);
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredService<FlotillaClient>();

        Assert.Null(await client.GetAsync("missing"));
        Assert.Equal("http://api.test:5080/jobs/missing", Assert.Single(server.Requests).RequestUri!.AbsoluteUri);
    }

    [Fact]
    public async Task AJournalIsReadWithItsTimesAndAnUnknownJobIsNull()
    {
        var server = new Stub(r => r.RequestUri!.AbsolutePath == "/jobs/j1/journal"
            ? Answer(HttpStatusCode.OK, """{"job_id":"j1","entries":[{"seq":3,"kind":"http","request":"http GET https://a/x","state":"interrupted","at":"2026-01-02T03:04:05+00:00","attempt":2}]}""")
            : Answer(HttpStatusCode.NotFound, "{}"));
        var client = new FlotillaClient(new HttpClient(server) { BaseAddress = new Uri("http://flotilla.test") });

        var journal = await client.GetJournalAsync("j1");
        var missing = await client.GetJournalAsync("j2");

        var entry = Assert.Single(journal!.Entries);
        Assert.Equal(new JournalEntryView(3, "http", "http GET https://a/x", "interrupted", new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), 2), entry);
        Assert.Null(missing);
    }

    private static HttpResponseMessage Answer(HttpStatusCode status, string json, string mediaType = "application/json") =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, mediaType) };

    private sealed class Stub(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        public List<HttpRequestMessage> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add(request);
            return Task.FromResult(answer(request));
        }
    }
}
