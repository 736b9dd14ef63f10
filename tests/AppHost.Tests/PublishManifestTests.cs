using System.Diagnostics;
using System.Text.Json;

namespace Flotilla.AppHost.Tests;

/// <summary>
/// What azd deploys: the AppHost run in publish mode (<c>--publisher manifest</c>) as azd runs it,
/// and the manifest it writes checked for what a working deployment needs. The nodes become
/// containers (<c>AppHost/Node.Dockerfile</c>): a project resource cannot carry a volume.
/// </summary>
public sealed class PublishManifestTests(PublishManifestTests.Manifest manifest) : IClassFixture<PublishManifestTests.Manifest>
{
    private static readonly string[] Nodes = ["node1", "node2", "node3"];
    private readonly string _text = manifest.Text;
    private readonly JsonElement _resources = manifest.Resources;

    /// <summary>The manifest, published once for the class into a temp folder.</summary>
    public sealed class Manifest : IAsyncLifetime
    {
        private readonly string _folder = Path.Combine(Path.GetTempPath(), "flotilla-manifest-tests", Guid.NewGuid().ToString("N"));

        public string Text { get; private set; } = "";

        public JsonElement Resources { get; private set; }

        public async Task InitializeAsync()
        {
            Directory.CreateDirectory(_folder);
            var output = Path.Combine(_folder, "aspire-manifest.json");
            // The generated metadata names the AppHost's folder (or its .csproj in other SDKs).
            var project = Projects.AppHost.ProjectPath;
            var folder = project.EndsWith(".csproj", StringComparison.Ordinal) ? Path.GetDirectoryName(project)! : project;
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<Configuration>/net10.0/
            var appHost = Path.Combine(folder, "bin", configuration, "net10.0", "AppHost.dll");

            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder };
            foreach (var arg in new[] { appHost, "--publisher", "manifest", "--output-path", output })
            {
                info.ArgumentList.Add(arg);
            }

            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            finally
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }
            }

            if (process.ExitCode != 0 || !File.Exists(output))
            {
                // xunit does not dispose a fixture whose InitializeAsync failed: clean up here.
                var reason = $"publish failed ({process.ExitCode}):{Environment.NewLine}{await stdout}{await stderr}";
                await DisposeAsync();
                Assert.Fail(reason);
            }

            Text = await File.ReadAllTextAsync(output);
            Resources = JsonDocument.Parse(Text).RootElement.GetProperty("resources").Clone();
        }

        public Task DisposeAsync()
        {
            Directory.Delete(_folder, recursive: true);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public void EachNodeKeepsItsDataOnAVolumeOfItsOwn()
    {
        var names = new HashSet<string>();
        foreach (var node in Nodes)
        {
            var volume = Assert.Single(_resources.GetProperty(node).GetProperty("volumes").EnumerateArray());
            names.Add(volume.GetProperty("name").GetString()!);
            Assert.False(volume.TryGetProperty("readOnly", out var readOnly) && readOnly.GetBoolean());

            // The node is told to keep its data exactly where its volume is mounted.
            Assert.Equal(volume.GetProperty("target").GetString(), Env(node, "Cluster__DataDir"));
        }

        Assert.Equal(Nodes.Length, names.Count);
    }

    [Fact]
    public void NoPathOfTheMachineThatPublishedIsBakedIn()
    {
        Assert.DoesNotContain("bindMounts", _text);
        Assert.DoesNotContain(".data", _text); // the run-mode data root
        foreach (var resource in _resources.EnumerateObject())
        {
            if (resource.Value.TryGetProperty("env", out var env))
            {
                foreach (var variable in env.EnumerateObject().Where(v => v.Value.ValueKind == JsonValueKind.String))
                {
                    var value = variable.Value.GetString()!;
                    Assert.False(Path.IsPathRooted(value) && value != "/var/lib/flotilla", $"{resource.Name}: {variable.Name}={value}");
                }
            }

            if (resource.Value.TryGetProperty("build", out var build))
            {
                Assert.False(Path.IsPathRooted(build.GetProperty("context").GetString()), resource.Name);
                Assert.False(Path.IsPathRooted(build.GetProperty("dockerfile").GetString()), resource.Name);
            }
        }
    }

    [Fact]
    public void RaftListensOnFixedTargetPortsInsideTheContainerAndAdvertisesTheNodesName()
    {
        for (var i = 0; i < Nodes.Length; i++)
        {
            var raft = _resources.GetProperty(Nodes[i]).GetProperty("bindings").GetProperty("raft");
            Assert.Equal(7101 + i, raft.GetProperty("targetPort").GetInt32());
            Assert.Equal("tcp", raft.GetProperty("transport").GetString());
            Assert.Equal($"0.0.0.0:{7101 + i}", Env(Nodes[i], "Cluster__RaftListen"));
            Assert.Equal($"{{{Nodes[i]}.bindings.raft.host}}:{{{Nodes[i]}.bindings.raft.port}}", Env(Nodes[i], "Cluster__RaftEndpoint"));

            // Behind the environment's service addresses a peer's source is not its advertised
            // address: the Raft port must not drop peers by address there.
            Assert.Equal("false", Env(Nodes[i], "Cluster__RaftKnownPeersOnly"));
        }
    }

    [Fact]
    public void OnlyTheApiIsReachableFromOutside()
    {
        var external = _resources.EnumerateObject()
            .Where(r => r.Value.TryGetProperty("bindings", out _))
            .SelectMany(r => r.Value.GetProperty("bindings").EnumerateObject()
                .Where(b => b.Value.TryGetProperty("external", out var e) && e.GetBoolean())
                .Select(_ => r.Name))
            .Distinct()
            .ToList();

        Assert.Equal(["api"], external);
    }

    private string? Env(string resource, string name) =>
        _resources.GetProperty(resource).GetProperty("env").TryGetProperty(name, out var value) ? value.GetString() : null;
}
