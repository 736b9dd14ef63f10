using System.Globalization;

namespace Flotilla.Benchmark;

/// <summary>Command-line settings of a benchmark run.</summary>
internal sealed record BenchOptions(int Jobs, int Seconds, int PacedRate, int HistoryJobs, int BatchClients, int Kills, string? JsonPath, bool Smoke, IReadOnlySet<string> Scenarios)
{
    public bool Runs(string scenario) => Scenarios.Contains(scenario);

    public static BenchOptions Parse(string[] args)
    {
        var smoke = args.Contains("--smoke");
        int Int(string name, int fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        }

        string? Text(string name)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }

        return new BenchOptions(
            Jobs: Int("--jobs", smoke ? 500 : 20_000),
            Seconds: Int("--seconds", smoke ? 1 : 5),
            PacedRate: Int("--rate", smoke ? 50 : 500),
            HistoryJobs: Int("--history", 0),
            BatchClients: Int("--batch-clients", 4),
            Kills: Int("--kills", smoke ? 1 : 10),
            JsonPath: Text("--json"),
            Smoke: smoke,
            Scenarios: (Text("--only") ?? "hangfire,submits,e2e,durable").Split(',').ToHashSet());
    }
}
