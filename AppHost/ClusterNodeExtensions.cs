using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting.ApplicationModel;
using Flotilla.Client;

namespace Flotilla.AppHost;

/// <summary>How one Flotilla node is described to Aspire: its endpoints, its Cluster:* settings and its dashboard commands.</summary>
internal static class ClusterNodeExtensions
{
    /// <summary>Where a node keeps its data inside its container (publish mode): a volume of its own.</summary>
    public const string ContainerDataDir = "/var/lib/flotilla";

    private const string ClusterSecretHeader = "X-Flotilla-Cluster-Secret";

    public static IResourceBuilder<ProjectResource> AddClusterNode(
        this IDistributedApplicationBuilder builder, string name, string dataRoot, int raftPort,
        IResourceBuilder<ParameterResource> clusterSecret, int electionTimeoutMs, bool bootstrap = false)
    {
        var publishing = builder.ExecutionContext.IsPublishMode;
        var node = builder.AddProject<Projects.Node>(name)
            // In a container the node serves HTTP on the image's port 8080.
            .WithHttpEndpoint(name: "http", targetPort: publishing ? 8080 : null)
            // Raft speaks raw TCP that the node binds itself: not proxied, and on a fixed port,
            // because the stored membership names members by address and must hold across restarts.
            .WithEndpoint(port: raftPort, targetPort: raftPort, name: "raft", scheme: "tcp", isProxied: false)
            .WithHttpHealthCheck("/health")
            .WithEnvironment("Cluster__NodeId", name)
            .WithEnvironment("Cluster__Bootstrap", bootstrap ? "true" : "false")
            .WithEnvironment("Cluster__ElectionTimeoutMs", electionTimeoutMs.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("Cluster__ElectionTimeoutMaxMs", (electionTimeoutMs + 50).ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("Cluster__Secret", clusterSecret)
            .WithLeaderCommands(clusterSecret);
        node.WithEnvironment("Cluster__RaftEndpoint", node.GetEndpoint("raft").Property(EndpointProperty.HostAndPort));

        if (!publishing)
        {
            // Run mode: plain processes on this machine, data in a folder that survives restarts.
            return node.WithEnvironment("Cluster__DataDir", Path.Combine(dataRoot, name));
        }

        // Publish mode (azd, Azure Container Apps): a container built from AppHost/Node.Dockerfile
        // with the node's data on a persistent volume of its own (no host path), the Raft listener
        // bound on every interface of the container, and the node's name in the environment's DNS
        // advertised to its peers (over Raft, and over HTTP for joins and forwarded writes).
        var repository = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, ".."));
        var listen = "0.0.0.0:" + raftPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return node
            .WithEnvironment("Cluster__DataDir", ContainerDataDir)
            .WithEnvironment("Cluster__RaftListen", listen)
            // Peers reach each other through the environment's service addresses: a connection's
            // source is not the address a member advertises, so the Raft port cannot tell members
            // by address (the cap, the handshake deadline and the secret's TLS still hold).
            .WithEnvironment("Cluster__RaftKnownPeersOnly", "false")
            .WithEnvironment("Cluster__HttpUrl", node.GetEndpoint("http"))
            .PublishAsDockerFile(container => container
                .WithDockerfile(repository, "AppHost/Node.Dockerfile")
                .WithVolume($"{name}-data", ContainerDataDir));
    }

    /// <summary>The nodes this one asks for membership (any member forwards to the leader).</summary>
    public static IResourceBuilder<ProjectResource> WithJoin(
        this IResourceBuilder<ProjectResource> node, params IResourceBuilder<ProjectResource>[] members) =>
        node.WithEnvironment("Cluster__Join", UrlList(members));

    /// <summary>Every node's HTTP address, for the Api.</summary>
    public static IResourceBuilder<ProjectResource> WithNodes(
        this IResourceBuilder<ProjectResource> api, params IResourceBuilder<ProjectResource>[] nodes) =>
        api.WithEnvironment("Cluster__Nodes", UrlList(nodes));

    /// <summary>Dashboard commands on a node: whether it leads now, and stepping down (to watch a failover).</summary>
    private static IResourceBuilder<ProjectResource> WithLeaderCommands(
        this IResourceBuilder<ProjectResource> node, IResourceBuilder<ParameterResource> clusterSecret) => node
        .WithHttpCommand("/cluster/health", "Is it the leader?", endpointName: "http", commandName: "leader", new HttpCommandOptions
        {
            Method = HttpMethod.Get,
            Description = "Asks this node whether it is the Raft leader, and who is.",
            IconName = "Crown",
            GetCommandResult = async context =>
            {
                var health = await context.Response.Content.ReadFromJsonAsync<ClusterHealthView>(FlotillaJson.Options, context.CancellationToken);
                return health switch
                {
                    null => CommandResults.Failure("The node sent no health."),
                    { HasLeader: false } => CommandResults.Success($"{health.NodeId} sees no leader (term {health.Term})."),
                    _ when health.Leader == health.NodeId => CommandResults.Success($"{health.NodeId} is the leader (term {health.Term}, commit {health.CommitIndex})."),
                    _ => CommandResults.Success($"{health.NodeId} follows {health.Leader} (term {health.Term})."),
                };
            },
        })
        .WithHttpCommand("/cluster/leadership/resign", "Step down", endpointName: "http", commandName: "step-down", new HttpCommandOptions
        {
            Method = HttpMethod.Post,
            Description = "If this node leads, it steps down and the cluster elects a leader again.",
            IconName = "ArrowExit",
            ConfirmationMessage = "Make this node give up leadership? Writes pause for an election (about a second).",
            // A /cluster/* route: the node wants the cluster secret.
            PrepareRequest = async context =>
                context.Request.Headers.Add(ClusterSecretHeader, await clusterSecret.Resource.GetValueAsync(context.CancellationToken)),
            GetCommandResult = async context => context.Response.IsSuccessStatusCode
                ? CommandResults.Success("Stepped down; watch the next leader with \"Is it the leader?\".")
                : CommandResults.Failure(await ProblemOfAsync(context.Response, context.CancellationToken)),
        });

    /// <summary>Dashboard command on the Api: submits 100 echo jobs in one batch (one commit), with <paramref name="apiKey"/> when the Api wants one.</summary>
    public static IResourceBuilder<ProjectResource> WithDemoJobsCommand(this IResourceBuilder<ProjectResource> api, string? apiKey) => api
        .WithHttpCommand("/jobs/batch", "Submit 100 demo jobs", endpointName: "http", commandName: "submit-demo-jobs", new HttpCommandOptions
        {
            Method = HttpMethod.Post,
            Description = "Submits 100 echo jobs; watch them on the jobs page and as traces.",
            IconName = "Rocket",
            PrepareRequest = context =>
            {
                var stamp = DateTimeOffset.UtcNow.ToString("O");
                var jobs = Enumerable.Range(1, 100)
                    .Select(i => new SubmitJobRequest(JobRules.DefaultWorkflow, JsonSerializer.SerializeToElement(new { demo = i, submitted = stamp })))
                    .ToArray();
                context.Request.Content = JsonContent.Create(jobs, options: FlotillaJson.Options);
                if (apiKey is not null)
                {
                    context.Request.Headers.Add("X-Api-Key", apiKey);
                }

                return Task.CompletedTask;
            },
            GetCommandResult = async context => context.Response.IsSuccessStatusCode
                ? CommandResults.Success($"Submitted {(await context.Response.Content.ReadFromJsonAsync<Job[]>(FlotillaJson.Options, context.CancellationToken))?.Length ?? 0} jobs.")
                : CommandResults.Failure(await ProblemOfAsync(context.Response, context.CancellationToken)),
        });

    private static async Task<string> ProblemOfAsync(HttpResponseMessage response, CancellationToken token)
    {
        var text = await response.Content.ReadAsStringAsync(token);
        return $"{(int)response.StatusCode}: {(text.Length > 300 ? text[..300] : text)}";
    }

    private static ReferenceExpression UrlList(IEnumerable<IResourceBuilder<ProjectResource>> nodes)
    {
        var list = new ReferenceExpressionBuilder();
        var first = true;
        foreach (var node in nodes)
        {
            if (!first)
            {
                list.AppendLiteral(",");
            }

            list.Append($"{node.GetEndpoint("http")}");
            first = false;
        }

        return list.Build();
    }
}
