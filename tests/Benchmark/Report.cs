using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Flotilla.Benchmark;

/// <summary>What a run measured: shown as progress while it runs, then as a table and JSON.</summary>
internal sealed class Report(BenchOptions options)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<(string Name, double Value, string Unit)> _rows = [];

    public bool Failed { get; private set; }

    public void Progress(string message) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{_clock.Elapsed:mm\\:ss}] {message}"));

    public void Add(string name, double value, string unit)
    {
        _rows.Add((name, value, unit));
        Progress(string.Create(CultureInfo.InvariantCulture, $"{name}: {value:N1} {unit}"));
    }

    public void Fail(string what)
    {
        Failed = true;
        Progress("FAILED: " + what);
    }

    public double? Get(string name) => _rows.FirstOrDefault(r => r.Name == name) is { Name: not null } row ? row.Value : null;

    public void Print()
    {
        if (Get("flotilla end-to-end") is { } flotilla && Get("hangfire.inmemory end-to-end") is { } hangfire && hangfire > 0)
        {
            _rows.Add(("flotilla / hangfire.inmemory", flotilla / hangfire, "x"));

            // Hangfire's job does nothing; so does this guest (it writes {}), where echo reads
            // its payload and writes it back as its result, which every node then stores.
            if (Get("plain no-op end-to-end") is { } noop)
            {
                _rows.Add(("flotilla plain no-op / hangfire.inmemory", noop / hangfire, "x"));
            }
        }

        var width = _rows.Max(r => r.Name.Length);
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {"measure".PadRight(width)} | {"value",12} | unit"));
        Console.WriteLine($"|-{new string('-', width)}-|-{new string('-', 12)}-|------");
        foreach (var (name, value, unit) in _rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name.PadRight(width)} | {value,12:N1} | {unit}"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; jobs {options.Jobs}, {options.Seconds} s per rate step{(options.Smoke ? ", SMOKE (not a measurement)" : string.Empty)}"));
    }

    public void WriteJson()
    {
        var json = JsonSerializer.Serialize(
            new
            {
                date = DateTimeOffset.UtcNow,
                cores = Environment.ProcessorCount,
                smoke = options.Smoke,
                jobs = options.Jobs,
                results = _rows.Select(r => new { name = r.Name, value = Math.Round(r.Value, 2), unit = r.Unit }),
            },
            new JsonSerializerOptions { WriteIndented = true });
        Console.WriteLine(json);
        if (options.JsonPath is { } path)
        {
            File.WriteAllText(path, json);
        }
    }
}
