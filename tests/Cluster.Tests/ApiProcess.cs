using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Flotilla.Cluster.Tests;

/// <summary>The built Api.dll in its own process on 127.0.0.1, fronting the given nodes.</summary>
internal sealed class ApiProcess : IAsyncDisposable
{
    private readonly OutputTail _output = new("api");
    private readonly Process _process;

    private ApiProcess(Process process, Uri url)
    {
        _process = process;
        Url = url;
        Http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri Url { get; }

    public HttpClient Http { get; }

    /// <summary>The running process's id (for CPU and memory readings), or null.</summary>
    public int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    /// <summary>
    /// Starts the Api on a free port. The port is free when picked but not reserved, so another
    /// process may take it first; then the Api exits at once and is started on another one.
    /// </summary>
    public static async Task<ApiProcess> StartAsync(IReadOnlyList<NodeProcess> nodes, IReadOnlyDictionary<string, string>? settings = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var api = StartOnFreePort(nodes, settings ?? new Dictionary<string, string>());
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (DateTime.UtcNow < deadline && !api._process.HasExited && !api.RecentOutput().Contains("Now listening on", StringComparison.Ordinal))
            {
                await Task.Delay(100);
            }

            if (!api._process.HasExited || attempt == 3)
            {
                return api;
            }

            await api.DisposeAsync();
        }
    }

    private static ApiProcess StartOnFreePort(IReadOnlyList<NodeProcess> nodes, IReadOnlyDictionary<string, string> settings)
    {
        var port = Flotilla.Tests.Shared.TestPorts.Take(1)[0];
        var url = new Uri($"http://127.0.0.1:{port}/");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            FindBinary(), "--urls", url.ToString().TrimEnd('/'),
            "--Cluster:Nodes", string.Join(',', nodes.Select(n => n.Url.ToString())),
            "--Logging:LogLevel:Default", "Information",
        })
        {
            info.ArgumentList.Add(arg);
        }

        // The nodes' secret, as the AppHost passes it; and whatever the test adds (Api:Keys).
        var all = new Dictionary<string, string>(settings);
        if (nodes.FirstOrDefault()?.Secret is { } secret)
        {
            all.TryAdd("Cluster:Secret", secret);
        }

        foreach (var (key, value) in all)
        {
            info.ArgumentList.Add("--" + key);
            info.ArgumentList.Add(value);
        }

        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var api = new ApiProcess(process, url);
        process.OutputDataReceived += (_, e) => api.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => api.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return api;
    }

    /// <summary>True once the Api's /health says a leader is known.</summary>
    public async Task<bool> IsHealthyAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            using var response = await Http.GetAsync("health", timeout.Token);
            return response.IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public string RecentOutput() => _output.ToString();

    /// <summary>Raised for every line the Api writes, as it arrives: a test can time what the Api logged.</summary>
    public event Action<string>? OutputLine;

    private void OnLine(string? line)
    {
        _output.Add(line);
        if (line is not null)
        {
            OutputLine?.Invoke(line);
        }
    }


    // Api.dll is built beside Node.dll (same configuration), as NodeBinary finds it.
    private static string FindBinary()
    {
        var nodeBin = new FileInfo(NodeBinary.Path).Directory!;
        var root = nodeBin.Parent!.Parent!.Parent!.Parent!.FullName; // <root>/Node/bin/<Configuration>/net10.0
        var candidate = Path.Combine(root, "Api", "bin", nodeBin.Parent!.Name, "net10.0", "Api.dll");
        return File.Exists(candidate) ? candidate : throw new FileNotFoundException("Api is not built: " + candidate);
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
        Http.Dispose();
        return ValueTask.CompletedTask;
    }
}
