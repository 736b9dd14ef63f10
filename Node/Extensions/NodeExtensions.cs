using Flotilla.Node.Apis;
using Flotilla.Node.Cluster;
using Flotilla.Node.Maintenance;
using Flotilla.Node.Security;
using Flotilla.Node.Store;
using Flotilla.Node.Telemetry;
using Flotilla.Node.Worker;
using Flotilla.Node.Workflows;
using Flotilla.Node.Workflows.Durable;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Extensions;

/// <summary>
/// The parts of one cluster member, each registered by its own method (<see cref="NodeApp"/>
/// lists them in order). Hosted services start in registration order: Raft and its commit
/// loops before the worker, the worker before the maintenance services that act on its jobs.
/// </summary>
internal static class NodeExtensions
{
    /// <summary>The clock every decision on this node reads, and the SQLite job store.</summary>
    public static IHostApplicationBuilder AddJobStore(this IHostApplicationBuilder builder)
    {
        // Tests of clock skew run a node whose wall clock is off; never outside that environment.
        var skew = builder.Environment.IsEnvironment("Testing") ? builder.Configuration.GetValue<int>("Testing:ClockOffsetMs") : 0;
        builder.Services.AddSingleton(skew == 0 ? TimeProvider.System : new SkewedClock(TimeSpan.FromMilliseconds(skew)));
        builder.Services.AddSingleton(sp =>
        {
            var cluster = sp.GetRequiredService<IOptions<ClusterOptions>>().Value;
            var dataDir = Directory.CreateDirectory(Path.GetFullPath(cluster.DataDir));
            return new JobStore(Path.Combine(dataDir.FullName, "flotilla.db"), cluster.NodeId);
        });
        return builder;
    }

    /// <summary>Membership in the Raft cluster: its settings, founding and joining, the commit loops, proposing and reading consistently.</summary>
    public static IHostApplicationBuilder AddRaftMember(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ClusterOptions>()
            .Bind(builder.Configuration.GetSection(ClusterOptions.Section))
            .Validate(o => !string.IsNullOrWhiteSpace(o.NodeId), "Cluster:NodeId is required.")
            .Validate(o => o.SnapshotEvery > 0 && o.SnapshotBytes > 0, "Cluster:SnapshotEvery and Cluster:SnapshotBytes must be positive.")
            .Validate(
                o => o.LogChunkBytes is >= ClusterOptions.MinLogChunkBytes and <= ClusterOptions.MaxLogChunkBytes,
                $"Cluster:LogChunkBytes must be between {ClusterOptions.MinLogChunkBytes} and {ClusterOptions.MaxLogChunkBytes}.")
            .Validate(o => o.RaftMaxConnections >= 0, "Cluster:RaftMaxConnections must be 0 (automatic) or positive.")
            .Validate(o => o.RaftHandshakeTimeoutMs > 0, "Cluster:RaftHandshakeTimeoutMs must be positive.")
            .Validate(
                o => o.ElectionTimeoutMs > 0 && o.ElectionTimeoutUpperMs >= o.ElectionTimeoutMs,
                "Cluster:ElectionTimeoutMs must be positive and Cluster:ElectionTimeoutMaxMs, when set, not below it.")
            .Validate(
                o => !string.IsNullOrEmpty(o.Secret) || builder.Environment.IsDevelopment(),
                "Cluster:Secret is required outside Development: every node (and the Api) needs the same shared secret.")
            .ValidateOnStart();

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
        return builder;
    }

    /// <summary>What runs a job: registered workflows, the durable host calls, Wasmtime.</summary>
    public static IHostApplicationBuilder AddWorkflows(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<KnownWorkflows>();
        services.AddOptions<WorkflowOptions>()
            .Bind(builder.Configuration.GetSection(WorkflowOptions.Section))
            .Validate(o => o.MaxMemoryBytes >= WorkflowOptions.MinMemoryBytes, $"Workflows:MaxMemoryBytes must be at least {WorkflowOptions.MinMemoryBytes} (one WebAssembly page).")
            .Validate(o => o.MaxOutputBytes > 0 && o.MaxConcurrentRuns > 0, "Workflows:MaxOutputBytes and Workflows:MaxConcurrentRuns must be positive.")
            .PostConfigure<IOptions<ClusterOptions>>((o, cluster) =>
                o.CacheDirectory ??= Path.Combine(Path.GetFullPath(cluster.Value.DataDir), "module-cache"))
            .ValidateOnStart();
        // Durable workflows: the `flotilla` imports, journaled (see Workflows/Durable).
        services.AddDurableWorkflows();
        services.AddSingleton<WasmRunner>();
        return builder;
    }

    /// <summary>The worker that runs the jobs assigned to this node, and its spans and meters.</summary>
    public static IHostApplicationBuilder AddJobWorker(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<WorkerOptions>()
            .Bind(builder.Configuration.GetSection(WorkerOptions.Section))
            .Validate(o => o.Slots > 0 && o.LeaseMs >= 100 && o.PollMs > 0 && o.HeartbeatMs > 0 && o.Prefetch >= 0, "Worker:Slots, Worker:LeaseMs (>= 100), Worker:PollMs and Worker:HeartbeatMs must be positive, Worker:Prefetch not negative.")
            .Validate(o => o.DefaultTimeoutMs > 0 && o.ShutdownGraceMs >= 0, "Worker:DefaultTimeoutMs must be positive and Worker:ShutdownGraceMs not negative.")
            .ValidateOnStart();
        services.AddSingleton<FlotillaTelemetry>();
        services.AddHostedService<JobWorker>();
        return builder;
    }

    /// <summary>Leader-only upkeep (leases, due jobs, retention, unused modules, seeding) and the trimming of mapped log chunks.</summary>
    public static IHostApplicationBuilder AddMaintenance(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
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
        return builder;
    }

    /// <summary>The node's HTTP plumbing: the membership health check, problem details, JSON, read-your-writes waits.</summary>
    public static IHostApplicationBuilder AddNodeHttp(this IHostApplicationBuilder builder)
    {
        // Membership, logged as information (not as an error) while the node is still joining.
        JoiningHealthLog.AddMembershipHealthCheck(builder);
        var services = builder.Services;
        services.AddProblemDetails();
        services.AddExceptionHandler<ClusterExceptionHandler>();
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        services.AddSingleton<JobWaiter>();
        services.ConfigureHttpJsonOptions(o => Flotilla.Client.FlotillaJson.Configure(o.SerializerOptions));
        return builder;
    }

    /// <summary>The node's routes: jobs, journals, workflows and the cluster's own.</summary>
    public static WebApplication MapNodeApis(this WebApplication app)
    {
        app.MapJobsApi();
        app.MapJournalApi();
        app.MapWorkflowsApi();
        app.MapClusterApi();
        return app;
    }
}
