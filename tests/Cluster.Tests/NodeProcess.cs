using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Flotilla.Client;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// A real Flotilla node: the built Node.dll in its own process on 127.0.0.1, with its own data
/// folder. Killing it is SIGKILL (no shutdown code runs), as a crash would be.
/// </summary>
internal sealed class NodeProcess : IAsyncDisposable
{
    /// <summary>The header node-to-node routes need (Cluster:Secret).</summary>
    public const string SecretHeader = "X-Flotilla-Cluster-Secret";

    private readonly OutputTail _output;
    private Process? _process;
    private string? _secret;

    public NodeProcess(string nodeId, int httpPort, int raftPort, string dataDir)
    {
        NodeId = nodeId;

        // FLOTILLA_TEST_NODE_LOG_DIR=dir keeps every line every node writes, timed on arrival, in
        // dir/<cluster>-<node>.log: to read a whole suite run afterwards (leader changes, say).
        if (Environment.GetEnvironmentVariable("FLOTILLA_TEST_NODE_LOG_DIR") is { Length: > 0 } logDir)
        {
            var file = System.IO.Path.Combine(logDir, $"{new DirectoryInfo(dataDir).Parent?.Name}-{nodeId}.log");
            OutputLine += line =>
            {
                lock (file)
                {
                    File.AppendAllText(file, DateTime.UtcNow.ToString("HH:mm:ss.fff ", System.Globalization.CultureInfo.InvariantCulture) + line + Environment.NewLine);
                }
            };
        }

        // Roomy: a node cut off from its peers logs DotNext's connection warnings with stack
        // traces, and 300 lines were pushed past a line a test looks for within seconds.
        _output = new OutputTail(nodeId, capacity: 3000);
        HttpPort = httpPort;
        RaftPort = raftPort;
        DataDir = dataDir;
        Url = new Uri($"http://127.0.0.1:{httpPort}/");
        Http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
    }

    public string NodeId { get; }

    public int HttpPort { get; }

    public int RaftPort { get; }

    public string DataDir { get; }

    public Uri Url { get; }

    public HttpClient Http { get; }

    public bool Bootstrap { get; set; }

    /// <summary>
    /// The cluster secret this node is started with (TestCluster gives each cluster its own).
    /// <see cref="Http"/> sends it, so tests reach /cluster/state like a peer would.
    /// </summary>
    public string? Secret
    {
        get => _secret;
        set
        {
            _secret = value;
            Http.DefaultRequestHeaders.Remove(SecretHeader);
            if (value is not null)
            {
                Http.DefaultRequestHeaders.Add(SecretHeader, value);
            }
        }
    }

    public string? Join { get; set; }

    /// <summary>The node's hosting environment; <c>Testing</c> honours test-only settings (<c>Testing:ClockOffsetMs</c>).</summary>
    public string EnvironmentName { get; set; } = "Production";

    /// <summary>Extra settings, e.g. <c>Cluster:SnapshotEvery</c>.</summary>
    public Dictionary<string, string> Settings { get; } = [];

    /// <summary>Runs the node under strace, delaying every msync (the log's flush) by this many microseconds.</summary>
    public int SlowFlushMicroseconds { get; set; }

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The running process's id (for CPU and memory readings), or null.</summary>
    public int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    public void Start()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"{NodeId} is already running.");
        }

        var nodeArgs = new List<string>
        {
            NodeBinary.Path,
            "--urls", Url.ToString().TrimEnd('/'),
            "--Cluster:NodeId", NodeId,
            "--Cluster:RaftEndpoint", $"127.0.0.1:{RaftPort}",
            "--Cluster:DataDir", DataDir,
            "--Cluster:Bootstrap", Bootstrap ? "true" : "false",
            "--Logging:LogLevel:Default", "Information",
        };
        if (!string.IsNullOrEmpty(Secret))
        {
            nodeArgs.AddRange(["--Cluster:Secret", Secret]);
        }

        if (!string.IsNullOrEmpty(Join))
        {
            nodeArgs.AddRange(["--Cluster:Join", Join]);
        }

        foreach (var (key, value) in Settings)
        {
            nodeArgs.AddRange(["--" + key, value]);
        }

        var info = SlowFlushMicroseconds > 0
            ? new ProcessStartInfo("strace")
            : new ProcessStartInfo("dotnet");
        if (SlowFlushMicroseconds > 0)
        {
            // seccomp-bpf stops the process only at msync; without it every syscall of the node
            // stops under ptrace, which slows the whole node rather than its disk.
            foreach (var arg in new[] { "-f", "--seccomp-bpf", "-qq", "-o", "/dev/null", "-e", "trace=msync", "-e", $"inject=msync:delay_enter={SlowFlushMicroseconds}", "--", "dotnet" })
            {
                info.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in nodeArgs)
        {
            info.ArgumentList.Add(arg);
        }

        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        info.Environment["DOTNET_ENVIRONMENT"] = EnvironmentName;
        info.Environment["ASPNETCORE_ENVIRONMENT"] = EnvironmentName;
        info.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    /// <summary>SIGKILL the node (and strace around it): no flush, no goodbye.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
    }

    public async Task<ClusterHealthView?> TryGetHealthAsync(CancellationToken token = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            return await Http.GetFromJsonAsync<ClusterHealthView>("cluster/health", FlotillaJson.Options, timeout.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    public async Task<bool> IsHealthyAsync(CancellationToken token = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            using var response = await Http.GetAsync("health", timeout.Token);
            return response.IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public async Task<StoreStateDto> GetStateAsync(CancellationToken token = default) =>
        (await Http.GetFromJsonAsync<StoreStateDto>("cluster/state", FlotillaJson.Options, token))!;

    public string RecentOutput() => _output.ToString();

    /// <summary>Raised for every line the node writes, as it arrives: a test can time what the node logged.</summary>
    public event Action<string>? OutputLine;

    private void OnLine(string? line)
    {
        _output.Add(line);
        if (line is not null)
        {
            OutputLine?.Invoke(line);
        }
    }

    /// <summary>
    /// A real disk fault while the node runs: strace attaches to it and makes every write to its
    /// SQLite database (and the database's WAL) fail with ENOSPC, as a full disk would. The Raft log
    /// is untouched. Disposing detaches strace, and the writes succeed again.
    /// </summary>
    public async Task<IAsyncDisposable> FailDatabaseWritesAsync()
    {
        var pid = ProcessId ?? throw new InvalidOperationException($"{NodeId} is not running.");
        var database = System.IO.Path.Combine(DataDir, "flotilla.db");
        var info = new ProcessStartInfo("strace") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-f", "-o", "/dev/null", "-p", pid.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-P", database, "-P", database + "-wal", "-e", "trace=pwrite64,write,fsync,fdatasync", "-e", "inject=pwrite64,write:error=ENOSPC" })
        {
            info.ArgumentList.Add(arg);
        }

        var strace = Process.Start(info)!;
        var attached = new TaskCompletionSource();
        strace.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("attached", StringComparison.Ordinal) == true)
            {
                attached.TrySetResult();
            }
        };
        strace.BeginErrorReadLine();
        await attached.Task.WaitAsync(TimeSpan.FromSeconds(10));
        return new Detach(strace);
    }

    private sealed class Detach(Process strace) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            // SIGTERM: strace detaches from the node and leaves it running (SIGKILL might not).
            using (var kill = Process.Start("kill", ["-TERM", strace.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            await strace.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            strace.Dispose();
        }
    }


    public ValueTask DisposeAsync()
    {
        Kill();
        _process?.Dispose();
        Http.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A node's <c>GET /cluster/state</c>: a diagnostic route of the nodes, not part of the client contract.</summary>
internal sealed record StoreStateDto(string NodeId, long AppliedIndex, string Checksum, Dictionary<string, long> Jobs);
