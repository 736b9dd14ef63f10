using Flotilla.Node.Security;

namespace Flotilla.Node.Extensions;

/// <summary>
/// The node's composition, in one place: <c>Program.cs</c> runs it, and in-process tests
/// build the same app with extra services (an in-memory trace exporter, say).
/// </summary>
internal static class NodeApp
{
    public static WebApplication Create(string[] args, Action<IServiceCollection>? configure = null)
    {
        // appsettings.json from beside the binary, wherever the node is started from: run from
        // another folder it was skipped, and ASP.NET Core logged every request.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

        builder.AddServiceDefaults();
        builder.AddJobStore();
        builder.AddRaftMember();
        builder.AddWorkflows();
        builder.AddJobWorker();
        builder.AddMaintenance();
        builder.AddNodeHttp();
        configure?.Invoke(builder.Services);

        var app = builder.Build();

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseClusterSecret();

        app.MapDefaultEndpoints();
        app.MapNodeApis();

        return app;
    }
}
