using Aspire.Hosting.ApplicationModel;

namespace Flotilla.AppHost;

/// <summary>How one Flotilla node is described to Aspire: its endpoints and its Cluster:* settings.</summary>
internal static class ClusterNodeExtensions
{
    public static IResourceBuilder<ProjectResource> AddClusterNode(
        this IDistributedApplicationBuilder builder, string name, string dataRoot, int raftPort,
        IResourceBuilder<ParameterResource> clusterSecret, bool bootstrap = false)
    {
        var node = builder.AddProject<Projects.Node>(name)
            .WithHttpEndpoint(name: "http")
            // Raft speaks raw TCP that the node binds itself: not proxied, and on a fixed port,
            // because the stored membership names members by address and must hold across restarts.
            .WithEndpoint(port: raftPort, targetPort: raftPort, name: "raft", scheme: "tcp", isProxied: false)
            .WithHttpHealthCheck("/health");

        var raft = node.GetEndpoint("raft");
        return node
            .WithEnvironment("Cluster__NodeId", name)
            .WithEnvironment("Cluster__RaftEndpoint", raft.Property(EndpointProperty.HostAndPort))
            .WithEnvironment("Cluster__Bootstrap", bootstrap ? "true" : "false")
            .WithEnvironment("Cluster__DataDir", Path.Combine(dataRoot, name))
            .WithEnvironment("Cluster__Secret", clusterSecret);
    }

    /// <summary>The nodes this one asks for membership (any member forwards to the leader).</summary>
    public static IResourceBuilder<ProjectResource> WithJoin(
        this IResourceBuilder<ProjectResource> node, params IResourceBuilder<ProjectResource>[] members) =>
        node.WithEnvironment("Cluster__Join", UrlList(members));

    /// <summary>Every node's HTTP address, for the Api.</summary>
    public static IResourceBuilder<ProjectResource> WithNodes(
        this IResourceBuilder<ProjectResource> api, params IResourceBuilder<ProjectResource>[] nodes) =>
        api.WithEnvironment("Cluster__Nodes", UrlList(nodes));

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
