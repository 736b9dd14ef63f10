namespace Flotilla.AppHost.Tests;

/// <summary>
/// The real AppHost, started once for the test class (a start costs ~35 s here), with its
/// data in a private temp folder so it can be stopped and started again on the same data.
/// </summary>
public sealed class FlotillaApp : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private static readonly string[] Nodes = ["node1", "node2", "node3"];

    public string DataRoot { get; } = Path.Combine(Path.GetTempPath(), "flotilla-apphost-tests", Guid.NewGuid().ToString("N"));

    /// <summary>Free ports for the three Raft listeners, kept across a restart like a real deployment.</summary>
    public int RaftPortBase { get; } = Flotilla.Tests.Shared.TestPorts.TakeRange(3);

    public DistributedApplication App { get; private set; } = null!;

    public IReadOnlyList<string> NodeNames => Nodes;

    public async Task InitializeAsync() => App = await StartAsync();

    /// <summary>Stops the whole app and starts a new one on the same data folder.</summary>
    public async Task RestartAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await App.StopAsync(stop.Token);
        await App.DisposeAsync();
        App = await StartAsync();
    }

    private async Task<DistributedApplication> StartAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            [$"--Flotilla:DataRoot={DataRoot}", $"--Flotilla:RaftPortBase={RaftPortBase}"], timeout.Token);
        var app = await builder.BuildAsync(timeout.Token);
        await app.StartAsync(timeout.Token);
        foreach (var node in Nodes)
        {
            await app.ResourceNotifications.WaitForResourceHealthyAsync(node, timeout.Token);
        }

        await app.ResourceNotifications.WaitForResourceHealthyAsync("api", timeout.Token);
        return app;
    }

    public async Task DisposeAsync()
    {
        if (App is not null)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await App.StopAsync(stop.Token);
            await App.DisposeAsync();
        }

        try
        {
            Directory.Delete(DataRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
