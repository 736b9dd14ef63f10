using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Flotilla.Client;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// A steady load of <c>sleep</c> jobs (10–200 ms) through the Api, each with its own
/// idempotency key, as a careful client sends them: a submit whose outcome is unknown (502, 504,
/// a lost connection, a timeout) or refused (503) is sent again with the same key and the same
/// body until the cluster gives a definite answer. Every acknowledgement is recorded with its
/// time, so the gaps between them show how long writes were refused.
/// </summary>
internal sealed class KeyedLoad(Uri api, int clients, double jobsPerSecond) : IAsyncDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = api, Timeout = TimeSpan.FromSeconds(15) };
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, string> _jobByKey = new();
    private readonly ConcurrentQueue<double> _ackTimes = new();
    private readonly ConcurrentQueue<string> _problems = new();
    private Task[] _clients = [];
    private int _unknown;
    private int _refused;

    /// <summary>When the load was created (t = 0), UTC.</summary>
    public DateTimeOffset Started { get; } = DateTimeOffset.UtcNow;

    /// <summary>Seconds since the load was created: the time line every figure is read on.</summary>
    public double Now => _clock.Elapsed.TotalSeconds;

    /// <summary>Idempotency key → the job id the cluster acknowledged for it.</summary>
    public IReadOnlyDictionary<string, string> Acknowledged => _jobByKey;

    /// <summary>Seconds (on <see cref="Now"/>'s line) at which a submit was acknowledged, in order.</summary>
    public IReadOnlyList<double> AckTimes => _ackTimes.Order().ToList();

    /// <summary>Answers no careful client should ever get: another job for a known key, a 4xx, a 409.</summary>
    public IReadOnlyCollection<string> Problems => _problems;

    /// <summary>Submits whose outcome was unknown and were sent again with their key.</summary>
    public int Unknown => _unknown;

    /// <summary>Submits the cluster refused (503), sent again.</summary>
    public int Refused => _refused;

    public void Start()
    {
        var perClient = TimeSpan.FromSeconds(clients / jobsPerSecond);
        _clients = Enumerable.Range(0, clients).Select(c => Task.Run(() => RunClientAsync(c, perClient))).ToArray();
    }

    /// <summary>Stops taking new keys; every key already sent is driven to a definite answer first.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_clients);
    }

    private async Task RunClientAsync(int client, TimeSpan every)
    {
        var random = new Random(client);
        var next = _clock.Elapsed;
        for (var i = 0; !_stop.IsCancellationRequested; i++)
        {
            var key = $"chaos-{client}-{i}";
            var body = new SubmitJobRequest("sleep", System.Text.Json.JsonSerializer.SerializeToElement(new { ms = random.Next(10, 201) }))
            {
                IdempotencyKey = key,
                MaxAttempts = 20,
            };
            await SubmitUntilKnownAsync(key, body);
            next += every;
            var wait = next - _clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
            else
            {
                next = _clock.Elapsed; // behind (an outage): no burst to catch up
            }
        }
    }

    private async Task SubmitUntilKnownAsync(string key, SubmitJobRequest body)
    {
        // Bounded so a broken cluster fails the test instead of hanging it.
        var deadline = _clock.Elapsed + TimeSpan.FromMinutes(3);
        while (_clock.Elapsed < deadline)
        {
            HttpStatusCode status;
            string text;
            try
            {
                using var response = await _http.PostAsJsonAsync("jobs", body, FlotillaJson.Options);
                status = response.StatusCode;
                text = await response.Content.ReadAsStringAsync();
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                Interlocked.Increment(ref _unknown);
                await Task.Delay(100);
                continue;
            }

            switch ((int)status)
            {
                case 202:
                    var job = System.Text.Json.JsonSerializer.Deserialize<Job>(text, FlotillaJson.Options)!;
                    var known = _jobByKey.GetOrAdd(key, job.JobId);
                    if (known != job.JobId)
                    {
                        _problems.Enqueue($"key {key}: acknowledged as {known} and again as {job.JobId}");
                    }

                    _ackTimes.Enqueue(Now);
                    return;
                case 502 or 504:
                    Interlocked.Increment(ref _unknown);
                    await Task.Delay(100);
                    break;
                case 503:
                    Interlocked.Increment(ref _refused);
                    await Task.Delay(100);
                    break;
                default:
                    _problems.Enqueue($"key {key}: {(int)status} {text}");
                    return;
            }
        }

        _problems.Enqueue($"key {key}: no definite answer within 3 minutes");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        _stop.Dispose();
        _http.Dispose();
    }
}
