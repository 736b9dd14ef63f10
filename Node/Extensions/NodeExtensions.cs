using Flotilla.Node.Cluster;
using Flotilla.Node.Http;
using Flotilla.Node.Maintenance;
using Flotilla.Node.Security;
using Flotilla.Node.Store;
using Flotilla.Node.Telemetry;
using Flotilla.Node.Worker;
using Flotilla.Node.Workflows;
using Flotilla.Node.Workflows.Durable;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Extensions;

internal static class NodeExtensions
{
    /// <summary>Everything one cluster member needs: options, store, Raft, proposing, HTTP plumbing.</summary>
    public static IHostApplicationBuilder AddFlotillaNode(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ClusterOptions>()
            .Bind(builder.Configuration.GetSection(ClusterOptions.Section))
            .Validate(o => !string.IsNullOrWhiteSpace(o.NodeId), "Cluster:NodeId is required.")
            .Validate(o => o.SnapshotEvery > 0, "Cluster:SnapshotEvery must be positive.")
            .Validate(o => o.RaftMaxConnections >= 0, "Cluster:RaftMaxConnections must be 0 (automatic) or positive.")
            .Validate(o => o.RaftHandshakeTimeoutMs > 0, "Cluster:RaftHandshakeTimeoutMs must be positive.")
            .Validate(
                o => o.ElectionTimeoutMs > 0 && o.ElectionTimeoutUpperMs >= o.ElectionTimeoutMs,
                "Cluster:ElectionTimeoutMs must be positive and Cluster:ElectionTimeoutMaxMs, when set, not below it.")
            .Validate(
                o => !string.IsNullOrEmpty(o.Secret) || builder.Environment.IsDevelopment(),
                "Cluster:Secret is required outside Development: every node (and the Api) needs the same shared secret.")
            .ValidateOnStart();

        // Tests of clock skew run a node whose wall clock is off; never outside that environment.
        var skew = builder.Environment.IsEnvironment("Testing") ? builder.Configuration.GetValue<int>("Testing:ClockOffsetMs") : 0;
        services.AddSingleton(skew == 0 ? TimeProvider.System : new SkewedClock(TimeSpan.FromMilliseconds(skew)));
        services.AddSingleton(sp =>
        {
            var cluster = sp.GetRequiredService<IOptions<ClusterOptions>>().Value;
            var dataDir = Directory.CreateDirectory(Path.GetFullPath(cluster.DataDir));
            return new JobStore(Path.Combine(dataDir.FullName, "flotilla.db"), cluster.NodeId);
        });
        services.AddSingleton<ClusterSecret>();
        services.AddSingleton<ClusterHttp>();
        services.AddSingleton<ClusterJoiner>();
        services.AddSingleton<Founding>();
        services.AddSingleton<RaftNode>();
        services.AddHostedService(sp => sp.GetRequiredService<RaftNode>());
        services.AddSingleton<GroupCommit>();
        services.AddHostedService(sp => sp.GetRequiredService<GroupCommit>());
        services.AddSingleton<Proposer>();
        services.AddSingleton<ReadConsistency>();
        services.AddSingleton<KnownWorkflows>();

        services.AddOptions<WorkerOptions>()
            .Bind(builder.Configuration.GetSection(WorkerOptions.Section))
            .Validate(o => o.Slots > 0 && o.LeaseMs >= 100 && o.PollMs > 0 && o.HeartbeatMs > 0 && o.Prefetch >= 0, "Worker:Slots, Worker:LeaseMs (>= 100), Worker:PollMs and Worker:HeartbeatMs must be positive, Worker:Prefetch not negative.")
            .ValidateOnStart();
        services.AddOptions<WorkflowOptions>()
            .Bind(builder.Configuration.GetSection("Workflows"))
            .PostConfigure<IOptions<ClusterOptions>>((o, cluster) =>
                o.CacheDirectory ??= Path.Combine(Path.GetFullPath(cluster.Value.DataDir), "module-cache"));
        // Durable workflows: the `flotilla` imports, journaled (see Workflows/Durable).
        services.AddDurableWorkflows();
        services.AddSingleton<WasmRunner>();
        services.AddSingleton<FlotillaTelemetry>();
        services.AddHostedService<JobWorker>();
        services.AddOptions<RetentionOptions>()
            .Bind(builder.Configuration.GetSection(RetentionOptions.Section))
            .Validate(o => o.Retention >= TimeSpan.Zero && o.CheckEvery > TimeSpan.Zero, "Jobs:Retention must not be negative and Jobs:CheckEvery must be positive.")
            .ValidateOnStart();
        services.AddHostedService<LeaseRescuer>();
        services.AddHostedService<DueJobScheduler>();
        services.AddHostedService<RetentionCleaner>();
        services.AddHostedService<ModuleCollector>();
        services.AddHostedService<WorkflowSeeder>();
        services.AddHostedService<MappedLogTrimmer>();

        // Membership, logged as information (not as an error) while the node is still joining.
        JoiningHealthLog.AddMembershipHealthCheck(builder);
        services.AddProblemDetails();
        services.AddExceptionHandler<ClusterExceptionHandler>();
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        services.AddSingleton<JobWaiter>();
        services.ConfigureHttpJsonOptions(o => Flotilla.Client.FlotillaJson.Configure(o.SerializerOptions));
        return builder;
    }
}
