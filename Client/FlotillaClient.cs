using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Flotilla.Client;

/// <summary>
/// The typed client of Flotilla's HTTP API: enqueue jobs, wait for them, list, cancel, and
/// register workflows. Thread-safe; give it an <see cref="HttpClient"/> whose
/// <see cref="HttpClient.BaseAddress"/> is the Api (or any node), or register it with
/// <c>services.AddFlotillaClient(...)</c>. Every refusal or failure of the server is a
/// <see cref="FlotillaException"/> with the status and problem details.
/// </summary>
public sealed class FlotillaClient
{
    private const string ApiKeyHeader = "X-Api-Key";
    private static readonly MediaTypeHeaderValue Wasm = new("application/wasm");

    private readonly HttpClient _http;
    private readonly FlotillaClientOptions _options;
    private readonly Uri _base;

    /// <summary>A client for the Api at <paramref name="http"/>'s base address.</summary>
    public FlotillaClient(HttpClient http)
        : this(http, new FlotillaClientOptions())
    {
    }

    /// <summary>A client for the Api at <paramref name="http"/>'s base address, with settings.</summary>
    public FlotillaClient(HttpClient http, FlotillaClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        var address = http.BaseAddress ?? options.BaseAddress
            ?? throw new ArgumentException("Set HttpClient.BaseAddress (or FlotillaClientOptions.BaseAddress) to the Api's address.", nameof(http));

        // Routes are relative ("jobs/..."), so a base path (http://host/flotilla) must end in '/'.
        _base = address.OriginalString.EndsWith('/') ? address : new Uri(address.OriginalString + "/");
        _http = http;
        _options = options;
    }

    /// <summary>Submits one job: <paramref name="payload"/> (any JSON-serializable value, or a <see cref="JsonElement"/>) runs through <paramref name="workflow"/>.</summary>
    /// <returns>The accepted job (pending); with an idempotency key that was used before, the job submitted then.</returns>
    public Task<Job> EnqueueAsync(string workflow, object? payload, EnqueueOptions? options = null, CancellationToken cancellationToken = default) =>
        EnqueueAsync(CreateRequest(workflow, payload, options), cancellationToken);

    /// <summary>Submits one job as the wire contract spells it.</summary>
    public async Task<Job> EnqueueAsync(SubmitJobRequest job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        ThrowIfInvalid([job], single: true);
        return await SubmitAsync<Job>("jobs", job, job.IdempotencyKey is not null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Submits up to <see cref="JobRules.MaxBatch"/> jobs in one commit: all are accepted, or none.</summary>
    public async Task<IReadOnlyList<Job>> EnqueueBatchAsync(IEnumerable<SubmitJobRequest> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var list = jobs.ToArray();
        if (list.Length is 0 or > JobRules.MaxBatch)
        {
            throw new FlotillaException(HttpStatusCode.BadRequest, "Bad batch size.", $"A batch holds 1 to {JobRules.MaxBatch} jobs; this one has {list.Length}.");
        }

        ThrowIfInvalid(list, single: false);
        var idempotent = list.All(j => j.IdempotencyKey is not null);
        return await SubmitAsync<Job[]>("jobs/batch", list, idempotent, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Submits one job per payload, all through <paramref name="workflow"/> with the same options, in one commit.</summary>
    public Task<IReadOnlyList<Job>> EnqueueBatchAsync(
        string workflow, IEnumerable<object?> payloads, EnqueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payloads);
        if (options?.IdempotencyKey is not null)
        {
            throw new ArgumentException("One idempotency key for many jobs would make them one job: give each job its own key.", nameof(options));
        }

        return EnqueueBatchAsync(payloads.Select(p => CreateRequest(workflow, p, options)), cancellationToken);
    }

    /// <summary>The request <see cref="EnqueueAsync(string, object?, EnqueueOptions?, CancellationToken)"/> would send, for batches of mixed jobs.</summary>
    public SubmitJobRequest CreateRequest(string workflow, object? payload, EnqueueOptions? options = null)
    {
        JsonElement? json = payload switch
        {
            null => null,
            JsonElement element => element,
            JsonDocument document => document.RootElement.Clone(),
            _ => JsonSerializer.SerializeToElement(payload, payload.GetType(), _options.PayloadJson),
        };
        return new SubmitJobRequest(
            workflow,
            json,
            options?.Queue,
            options?.Priority,
            options?.RunAt,
            options?.Delay is { } delay ? (long)delay.TotalMilliseconds : null,
            options?.MaxAttempts,
            options?.IdempotencyKey,
            options?.Timeout is { } timeout ? (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue) : null);
    }

    /// <summary>The job as it is now, or null when there is no such job.</summary>
    public async Task<Job?> GetAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        using var response = await SendAsync(HttpMethod.Get, JobPath(jobId), null, cancellationToken).ConfigureAwait(false);
        return response.StatusCode == HttpStatusCode.NotFound ? null : await ReadAsync<Job>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Waits until the job has finished (completed, failed or cancelled) and returns it. The server
    /// holds each request until the job changes (<c>GET /jobs/{id}?wait_ms=</c>), so nothing polls.
    /// </summary>
    /// <exception cref="TimeoutException">The job had not finished within <paramref name="timeout"/>.</exception>
    /// <exception cref="FlotillaException">There is no such job (404), or the server failed.</exception>
    public async Task<Job> WaitAsync(string jobId, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        var started = TimeProvider.System.GetTimestamp();
        var longest = TimeSpan.FromMilliseconds(Math.Clamp(_options.LongPollWait.TotalMilliseconds, 0, JobRules.MaxWaitMs));
        while (true)
        {
            var remaining = timeout - TimeProvider.System.GetElapsedTime(started);
            var wait = remaining < TimeSpan.Zero ? TimeSpan.Zero : remaining < longest ? remaining : longest;
            var path = $"{JobPath(jobId)}?wait_ms={(long)wait.TotalMilliseconds}";
            using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken).ConfigureAwait(false);
            var job = await ReadAsync<Job>(response, cancellationToken).ConfigureAwait(false);
            if (job.IsFinished)
            {
                return job;
            }

            if (TimeProvider.System.GetElapsedTime(started) >= timeout)
            {
                throw new TimeoutException($"Job {jobId} is still {job.Status.ToString().ToLowerInvariant()} after {timeout}.");
            }
        }
    }

    /// <summary>A durable job's journal (its host calls, in order), or null when there is no such job.</summary>
    public async Task<JournalView?> GetJournalAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        using var response = await SendAsync(HttpMethod.Get, JobPath(jobId) + "/journal", null, cancellationToken).ConfigureAwait(false);
        return response.StatusCode == HttpStatusCode.NotFound ? null : await ReadAsync<JournalView>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Cancels a pending or running job; a 409 <see cref="FlotillaException"/> if it had already finished.</summary>
    public async Task<Job> CancelAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        using var response = await SendAsync(HttpMethod.Post, JobPath(jobId) + "/cancel", null, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<Job>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How many jobs are in each status.</summary>
    public async Task<JobCounts> CountAsync(CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, "jobs/counts", null, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<JobCounts>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every job that matches, oldest first, fetching pages of <paramref name="pageSize"/> as it goes.</summary>
    public async IAsyncEnumerable<Job> ListAsync(
        JobStatus? status = null, string? queue = null, int pageSize = JobRules.DefaultPageSize, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, JobRules.MaxPageSize);
        string? after = null;
        do
        {
            var query = new List<string> { $"limit={pageSize}" };
            if (status is { } s)
            {
                query.Add("status=" + s.ToString().ToLowerInvariant());
            }

            if (queue is not null)
            {
                query.Add("queue=" + Uri.EscapeDataString(queue));
            }

            if (after is not null)
            {
                query.Add("after=" + Uri.EscapeDataString(after));
            }

            using var response = await SendAsync(HttpMethod.Get, "jobs?" + string.Join('&', query), null, cancellationToken).ConfigureAwait(false);
            var page = await ReadAsync<JobPage>(response, cancellationToken).ConfigureAwait(false);
            foreach (var job in page.Jobs)
            {
                yield return job;
            }

            after = page.NextAfter;
        }
        while (after is not null);
    }

    /// <summary>Registers (or replaces) the WebAssembly module jobs run as <paramref name="name"/>; every node can run it once this returns.</summary>
    public async Task<WorkflowView> RegisterWorkflowAsync(string name, Stream module, TimeSpan? defaultTimeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (!JobRules.IsName(name))
        {
            throw new FlotillaException(HttpStatusCode.BadRequest, "The workflow name is not valid.", null, new Dictionary<string, string[]> { ["name"] = [JobRules.NameRule("name")] });
        }

        var path = "workflows/" + name + (defaultTimeout is { } t ? $"?timeout_ms={(long)t.TotalMilliseconds}" : "");
        using var content = new StreamContent(module);
        content.Headers.ContentType = Wasm;
        using var response = await SendAsync(HttpMethod.Put, path, content, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<WorkflowView>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The registered workflows.</summary>
    public async Task<IReadOnlyList<WorkflowView>> ListWorkflowsAsync(CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, "workflows", null, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<WorkflowView[]>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The cluster as the node the Api asked sees it: members, leader, term, commit index.</summary>
    public async Task<ClusterHealthView> GetClusterHealthAsync(CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, "cluster/health", null, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<ClusterHealthView>(response, cancellationToken).ConfigureAwait(false);
    }

    private static string JobPath(string jobId) => "jobs/" + Uri.EscapeDataString(jobId);

    /// <summary>The server's rules, checked here first so a bad job fails without a round trip.</summary>
    private static void ThrowIfInvalid(IReadOnlyList<SubmitJobRequest> jobs, bool single)
    {
        var errors = new Dictionary<string, string[]>();
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < jobs.Count; i++)
        {
            jobs[i].Validate(now, single ? "" : $"[{i}].", errors);
        }

        if (errors.Count > 0)
        {
            throw new FlotillaException(HttpStatusCode.BadRequest, single ? "The job is not valid." : "The batch is not valid; no job was sent.", null, errors);
        }
    }

    // A submission whose outcome is unknown (answer lost, 502, 504) is sent again only when it
    // carries idempotency keys: the cluster then returns the job it may already have taken.
    private async Task<T> SubmitAsync<T>(string path, object body, bool idempotent, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var retry = idempotent && attempt < _options.IdempotentRetries;
            try
            {
                using var content = JsonContent.Create(body, body.GetType(), options: FlotillaJson.Options);
                using var response = await SendAsync(HttpMethod.Post, path, content, cancellationToken).ConfigureAwait(false);
                if (retry && response.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout)
                {
                    await Task.Delay(RetryDelay(attempt), cancellationToken).ConfigureAwait(false);
                    continue;
                }

                return await ReadAsync<T>(response, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (retry && ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(RetryDelay(attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static TimeSpan RetryDelay(int attempt) => TimeSpan.FromMilliseconds(200 * (attempt + 1));

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(_base, path)) { Content = content };
        if (_options.ApiKey is { } key)
        {
            request.Headers.TryAddWithoutValidation(ApiKeyHeader, key);
        }

        return await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw await ProblemAsync(response, cancellationToken).ConfigureAwait(false);
        }

        return await response.Content.ReadFromJsonAsync<T>(FlotillaJson.Options, cancellationToken).ConfigureAwait(false)
            ?? throw new FlotillaException(response.StatusCode, "Empty answer.", $"{response.RequestMessage?.RequestUri} answered {(int)response.StatusCode} without a body.");
    }

    private static async Task<FlotillaException> ProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        Problem? problem = null;
        try
        {
            if (response.Content.Headers.ContentType?.MediaType?.EndsWith("json", StringComparison.OrdinalIgnoreCase) == true)
            {
                problem = await response.Content.ReadFromJsonAsync<Problem>(FlotillaJson.Options, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (JsonException)
        {
            // Not a problem body (a proxy's error page): the status says enough.
        }

        return new FlotillaException(response.StatusCode, problem?.Title ?? response.ReasonPhrase, problem?.Detail, problem?.Errors);
    }

    private sealed record Problem(string? Title, string? Detail, Dictionary<string, string[]>? Errors);
}
