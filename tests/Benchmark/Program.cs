using Flotilla.Benchmark;

// Measures Flotilla on this machine against Hangfire.InMemory in the same run: end-to-end
// jobs/s, submits/s (batch and single), pickup at a paced rate on the leader and a follower,
// leader failover, memory and CPU per job, and a durable no-op job next to a plain one. Prints
// progress, a table, and JSON.
//   dotnet run -c Release --project tests/Benchmark [-- --jobs 20000 --seconds 5 --rate 500 --batch-clients 4 --only hangfire,submits,e2e,durable (singles: the single submits alone) --history 1000000 --json bench.json]
//   dotnet run -c Release --project tests/Benchmark -- --only failover [--kills 10]   (leader failover alone, N kills)
//   dotnet run -c Release --project tests/Benchmark -- --smoke     (CI: checks it works, measures nothing)
var options = BenchOptions.Parse(args);
var report = new Report(options);

if (options.Runs("hangfire"))
{
    await HangfireScenario.RunAsync(options, report);
}

if (options.Runs("submits") || options.Runs("singles"))
{
    await FlotillaScenarios.SubmitsAsync(options, report);
}

if (options.Runs("e2e"))
{
    // With "durable" too, the durable-vs-plain section runs in the same cluster.
    await FlotillaScenarios.EndToEndAsync(options, report);
}
else if (options.Runs("durable"))
{
    await FlotillaScenarios.DurableAsync(options, report);
}

if (options.Runs("failover"))
{
    await FailoverScenario.RunAsync(options, report);
}

report.Print();
report.WriteJson();
return report.Failed ? 1 : 0;
