using Flotilla.AppHost;

// Flotilla: three Raft members that form one cluster, then the public Api in front of them.
var builder = DistributedApplication.CreateBuilder(args);

// Each node keeps its log, snapshots and database here; it survives AppHost restarts.
var dataRoot = builder.Configuration["Flotilla:DataRoot"]
    ?? Path.GetFullPath(Path.Combine(builder.AppHostDirectory, "..", ".data"));

// Raft ports must not change between runs: members know each other by address.
var raftPortBase = int.TryParse(builder.Configuration["Flotilla:RaftPortBase"], out var raft) ? raft : 7101;

// One shared secret: nodes refuse node-to-node calls without it. Generated once, kept in the
// AppHost's user secrets (set Parameters:cluster-secret to choose it).
var clusterSecret = builder.AddParameter(
    "cluster-secret", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: true);

// Election timeouts that do not overlap (250–300, 320–370, 390–440 ms): when the leader dies, the
// survivors never ask for votes at the same moment, so one election settles it (ClusterOptions).

// node1 founds the cluster on its very first start; with data it simply rejoins.
var node1 = builder.AddClusterNode("node1", dataRoot, raftPortBase, clusterSecret, electionTimeoutMs: 250, bootstrap: true);

// node2 asks node1 to add it, so node1 must be a member first. Membership, not a leader:
// after a full restart no leader exists until node2 is up too.
var node2 = builder.AddClusterNode("node2", dataRoot, raftPortBase + 1, clusterSecret, electionTimeoutMs: 320)
    .WithJoin(node1)
    .WaitFor(node1);

// node3 after node2: one membership change at a time, and a majority exists before it joins.
var node3 = builder.AddClusterNode("node3", dataRoot, raftPortBase + 2, clusterSecret, electionTimeoutMs: 390)
    .WithJoin(node1, node2)
    .WaitFor(node2);

// node1 founds only while it has no data and neither node2 nor node3 answers as a member: a node1
// whose disk was lost joins its old cluster (once the old node1 is removed) instead of founding a second.
node1.WithJoin(node2, node3);

// Hosts durable workflows may call (Durable:HttpAllow; none by default), e.g.
// dotnet user-secrets set Flotilla:HttpAllow "api.example.com,127.0.0.1:9000".
if (builder.Configuration["Flotilla:HttpAllow"] is { Length: > 0 } httpAllow)
{
    foreach (var node in new[] { node1, node2, node3 })
    {
        node.WithEnvironment("Durable__HttpAllow", httpAllow);
    }
}

// The Api takes writes only once a leader is known; its /health says so.
// A fixed port for the public front, so scripts and the README can name it.
var apiPort = int.TryParse(builder.Configuration["Flotilla:ApiPort"], out var p) ? p : 5080;

// The only resource reachable from outside (azd: the only external ingress).
var api = builder.AddProject<Projects.Api>("api")
    .WithHttpEndpoint(port: apiPort, name: "http")
    .WithNodes(node1, node2, node3)
    .WithEnvironment("Cluster__Secret", clusterSecret)
    .WaitFor(node1)
    .WaitFor(node2)
    .WaitFor(node3)
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints()
    .WithUrlForEndpoint("http", _ => new ResourceUrlAnnotation { Url = "/ui", DisplayText = "Jobs page" });

// API keys (Api:Keys) when configured, e.g. dotnet user-secrets set Flotilla:ApiKeys "key:jobs:write+jobs:read".
var apiKeys = builder.Configuration["Flotilla:ApiKeys"] is { Length: > 0 } keys ? keys : null;
if (apiKeys is not null)
{
    api.WithEnvironment("Api__Keys", apiKeys);
}

// The dashboard's "Submit 100 demo jobs" presents the first key (it must allow jobs:write).
api.WithDemoJobsCommand(apiKeys?.Split(',')[0].Split(':')[0].Trim());

builder.Build().Run();
