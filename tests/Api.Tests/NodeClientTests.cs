using System.Net;
using Flotilla.Api.Nodes;

namespace Flotilla.Api.Tests;

public sealed class NodeClientTests
{
    private readonly FakeNodes _nodes = new();

    [Fact]
    public async Task WritesGoToTheLeaderUrlThatANodeReports()
    {
        _nodes.Handle = r => r.Path switch
        {
            "cluster/health" => FakeNodes.Health(true, "http://127.0.0.1:5103"),
            "jobs" when r.Port == 5103 => FakeNodes.Json(HttpStatusCode.Accepted, FakeNodes.Job("j1"), "/jobs/j1"),
            _ => new HttpResponseMessage(HttpStatusCode.InternalServerError),
        };
        var (client, leader) = _nodes.Client();

        var answer = await client.WriteAsync(HttpMethod.Post, "jobs", "{}"u8.ToArray(), "application/json", default);

        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
        Assert.Equal("/jobs/j1", answer.Location);
        Assert.Equal(FakeNodes.Node3, leader.Current);
        Assert.All(_nodes.To("jobs"), r => Assert.Equal(5103, r.Port));
    }

    [Fact]
    public async Task WithoutALeaderUrlWritesGoThroughAnyNode()
    {
        // Today's nodes: has_leader but no leader_url; any node forwards to the leader itself.
        _nodes.Handle = r => r.Path switch
        {
            "cluster/health" => FakeNodes.Health(true, null),
            "jobs" => FakeNodes.Json(HttpStatusCode.Accepted, FakeNodes.Job("j1"), "/jobs/j1"),
            _ => new HttpResponseMessage(HttpStatusCode.NotFound),
        };
        var (client, leader) = _nodes.Client();

        var answer = await client.WriteAsync(HttpMethod.Post, "jobs", "{}"u8.ToArray(), "application/json", default);

        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
        Assert.Null(leader.Current);
        Assert.Single(_nodes.To("jobs"));
    }

    [Fact]
    public async Task A503IsRetriedAgainstTheNewlyDiscoveredLeader()
    {
        // The leader changes from node1 to node2 during the write.
        var elections = 0;
        _nodes.Handle = r => r.Path switch
        {
            "cluster/health" => FakeNodes.Health(true, Interlocked.Increment(ref elections) == 1 ? "http://127.0.0.1:5101" : "http://127.0.0.1:5102"),
            "jobs" when r.Port == 5101 => FakeNodes.Unavailable(),
            "jobs" when r.Port == 5102 => FakeNodes.Json(HttpStatusCode.Accepted, FakeNodes.Job("j1"), "/jobs/j1"),
            _ => new HttpResponseMessage(HttpStatusCode.InternalServerError),
        };
        var (client, leader) = _nodes.Client();

        var answer = await client.WriteAsync(HttpMethod.Post, "jobs", "{}"u8.ToArray(), "application/json", default);

        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
        Assert.Equal([5101, 5102], _nodes.To("jobs").Select(r => r.Port));
        Assert.Equal(FakeNodes.Node2, leader.Current);
    }

    [Fact]
    public async Task WithoutAnElectionWaitARefusedConnectionMovesOnToAnotherNodeAtOnce()
    {
        // The reported leader was just killed: its port refuses; node1 forwards to the next leader.
        LeaderRefuses(() => "http://127.0.0.1:5103");
        var (client, leader) = _nodes.Client(WithElectionWait(TimeSpan.Zero, FakeNodes.FastRetries.WriteRetryBudget));

        var answer = await client.WriteAsync(HttpMethod.Post, "jobs", "{}"u8.ToArray(), "application/json", default);

        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
        Assert.Equal([5103, 5101], _nodes.To("jobs").Select(r => r.Port));
        Assert.Null(leader.Current);
    }

    [Fact]
    public async Task ARefusedLeaderIsReplacedByTheNextOneTheNodesNameNotByAFollower()
    {
        // node3 led and was killed: the nodes name it for a few more questions (they have not
        // given up on it yet), then name node2. The write waits for node2 instead of going
        // through node1, which would answer only once it had applied the write itself.
        var questions = 0;
        LeaderRefuses(() => Interlocked.Increment(ref questions) <= 4 ? "http://127.0.0.1:5103" : "http://127.0.0.1:5102");
        var (client, leader) = _nodes.Client();

        var answer = await client.WriteAsync(HttpMethod.Post, "jobs", "{}"u8.ToArray(), "application/json", default);

        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
        Assert.Equal([5103, 5102], _nodes.To("jobs").Select(r => r.Port));
        Assert.Equal(FakeNodes.Node2, leader.Current);
    }

    [Fact]
    public async Task ALeaderTheNodesKeepNamingThoughItRefusesIsWaitedForOnceThenAnyNodeTakesWrites()
    {
        // A leader_url this Api cannot reach (another network view): the first write waits the
        // whole election wait, then goes through node1; the next one does not wait again.
        LeaderRefuses(() => "http://127.0.0.1:5103");
        var (client, _) = _nodes.Client(WithElectionWait(TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(10)));

        var first = await client.WriteAsync(HttpMethod.Post, "jobs", "{}"u8.ToArray(), "application/json", default);
        var questionsForTheFirst = _nodes.To("cluster/health").Count();
        var second = await client.WriteAsync(HttpMethod.Post, "jobs", "{}"u8.ToArray(), "application/json", default);
        var questionsForTheSecond = _nodes.To("cluster/health").Count() - questionsForTheFirst;

        Assert.Equal(HttpStatusCode.Accepted, first.Status);
        Assert.Equal(HttpStatusCode.Accepted, second.Status);
        Assert.Equal(5101, _nodes.To("jobs").Last().Port);
        Assert.True(questionsForTheFirst >= 4, $"the first write asked {questionsForTheFirst} times: it did not wait for a next leader");
        Assert.True(questionsForTheSecond <= 2, $"the second write asked {questionsForTheSecond} times: it waited again");
    }

    [Fact]
    public async Task ATimeoutAfterSendingIsNotRetried()
    {
        // The node may have stored the job: sending it again could store it twice.
        _nodes.Handle = r => r.Path == "cluster/health" ? FakeNodes.Health(true, null) : throw new TaskCanceledException("timed out");
        var (client, _) = _nodes.Client();

        var error = await Assert.ThrowsAsync<ClusterUnavailableException>(
            () => client.WriteAsync(HttpMethod.Post, "jobs", "{}"u8.ToArray(), "application/json", default));

        Assert.Equal(504, error.Status);
        Assert.Single(_nodes.To("jobs"));
    }

    [Fact]
    public async Task AConnectionLostAfterSendingIsNotRetried()
    {
        _nodes.Handle = r => r.Path == "cluster/health"
            ? FakeNodes.Health(true, null)
            : throw new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely.");
        var (client, _) = _nodes.Client();

        var error = await Assert.ThrowsAsync<ClusterUnavailableException>(
            () => client.WriteAsync(HttpMethod.Post, "jobs", "{}"u8.ToArray(), "application/json", default));

        Assert.Equal(502, error.Status);
        Assert.Single(_nodes.To("jobs"));
    }

    [Fact]
    public async Task AWriteRefusedDuringAnElectionGoesToTheNewLeaderOnceNamedNotAfterItsBackoff()
    {
        // No leader for the first rounds of questions (every node answers writes with 503), then
        // node2 leads. The backoff is far longer than the wait the write is given.
        var asked = 0;
        _nodes.Handle = r => r.Path switch
        {
            "cluster/health" => Interlocked.Increment(ref asked) <= 6 ? FakeNodes.Health(false, null) : FakeNodes.Health(true, "http://127.0.0.1:5102"),
            "jobs" when r.Port == 5102 && Volatile.Read(ref asked) > 6 => FakeNodes.Json(HttpStatusCode.Accepted, FakeNodes.Job("j1"), "/jobs/j1"),
            "jobs" => FakeNodes.Unavailable(),
            _ => new HttpResponseMessage(HttpStatusCode.InternalServerError),
        };
        var (client, leader) = _nodes.Client(new ApiOptions
        {
            WriteRetryBudget = TimeSpan.FromMinutes(2),
            InitialBackoff = TimeSpan.FromSeconds(30),
            MaxBackoff = TimeSpan.FromSeconds(30),
        });
        using var within = new CancellationTokenSource(TimeSpan.FromSeconds(5));

        var answer = await client.WriteAsync(HttpMethod.Post, "jobs", "{}"u8.ToArray(), "application/json", within.Token);

        Assert.Equal(HttpStatusCode.Accepted, answer.Status);
        Assert.Equal(FakeNodes.Node2, leader.Current);
        Assert.Equal(5102, _nodes.To("jobs").Last().Port);
    }

    [Fact]
    public async Task AfterTheRetryBudgetTheLast503IsTheAnswer()
    {
        _nodes.Handle = r => r.Path == "cluster/health" ? FakeNodes.Health(false, null) : FakeNodes.Unavailable();
        var (client, _) = _nodes.Client(new ApiOptions
        {
            WriteRetryBudget = TimeSpan.FromMilliseconds(300),
            InitialBackoff = TimeSpan.FromMilliseconds(20),
            MaxBackoff = TimeSpan.FromMilliseconds(40),
        });

        var answer = await client.WriteAsync(HttpMethod.Post, "jobs", "{}"u8.ToArray(), "application/json", default);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.Status);
        Assert.True(_nodes.To("jobs").Count() > 1, "a 503 wrote nothing, so it is retried");
    }

    [Fact]
    public async Task WhenNoNodeCanBeReachedTheWriteFailsWith503()
    {
        _nodes.Handle = _ => throw FakeNodes.Refused();
        var (client, _) = _nodes.Client(new ApiOptions { WriteRetryBudget = TimeSpan.FromMilliseconds(100), InitialBackoff = TimeSpan.FromMilliseconds(20) });

        var error = await Assert.ThrowsAsync<ClusterUnavailableException>(
            () => client.WriteAsync(HttpMethod.Post, "jobs", "{}"u8.ToArray(), "application/json", default));

        Assert.Equal(503, error.Status);
    }

    [Fact]
    public async Task ReadsMoveOnFromANodeThatIsDown()
    {
        _nodes.Handle = r => r.Port == 5101 ? throw FakeNodes.Refused() : FakeNodes.Json(HttpStatusCode.OK, FakeNodes.Job("j1"));
        var (client, _) = _nodes.Client();

        var answer = await client.ReadAsync("jobs/j1", default);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(5102, answer.Node.Port);
    }

    // The nodes name the leader <paramref name="named"/> returns (asked anew each time); node3's
    // port refuses connections (it was killed); any other node takes the write.
    private void LeaderRefuses(Func<string> named) => _nodes.Handle = r => r switch
    {
        { Path: "cluster/health" } => FakeNodes.Health(true, named()),
        { Port: 5103 } => throw FakeNodes.Refused(),
        { Path: "jobs" } => FakeNodes.Json(HttpStatusCode.Accepted, FakeNodes.Job("j1"), "/jobs/j1"),
        _ => new HttpResponseMessage(HttpStatusCode.InternalServerError),
    };

    private static ApiOptions WithElectionWait(TimeSpan wait, TimeSpan budget) => new()
    {
        WriteRetryBudget = budget,
        InitialBackoff = FakeNodes.FastRetries.InitialBackoff,
        MaxBackoff = FakeNodes.FastRetries.MaxBackoff,
        LeaderElectionWait = wait,
    };
}
