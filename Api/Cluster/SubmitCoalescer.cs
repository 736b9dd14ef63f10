using System.Buffers;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Flotilla.Client;
using Flotilla.Node.Http;

namespace Flotilla.Api.Cluster;

/// <summary>
/// Single <c>POST /jobs</c> requests, sent to the leader together. A lone submit goes at once;
/// submits that arrive while <see cref="MaxSenders"/> requests are in flight wait for the next
/// one and share it (<c>POST /cluster/submit</c>), so at 64 concurrent clients a job no
/// longer costs an HTTP round trip Api → leader of its own. Nothing waits on a timer: under light
/// load every submit is sent alone, as before.
/// <para>
/// Each item keeps its client's trace (the Api request's <c>traceparent</c> travels with it) and
/// gets its own answer: the node checks and stores the items one by one (a bad item or a taken
/// idempotency key fails only itself), in one log entry. A failure of the whole request (503 after
/// the retry budget, an unknown outcome) is every item's answer, as it would have been alone.
/// </para>
/// </summary>
internal sealed class SubmitCoalescer(NodeClient nodes, IHostApplicationLifetime lifetime)
{
    /// <summary>
    /// Requests to the leader in flight at once. One: the longer a send takes, the more the next
    /// one carries, and fewer, larger entries are what costs least on every node (with 64
    /// clients, one sender carried ~30 jobs a request; four senders cost the leader ~60 % and
    /// each follower ~40 % more CPU per job, measured with <c>--only singles</c>).
    /// </summary>
    public const int MaxSenders = 1;

    private const int MaxItems = 256;

    // Far below a node's 28 MiB body limit; one item always fits (a job is at most ~1 MiB).
    private const int MaxBytes = 4 * 1024 * 1024;

    private readonly Channel<Waiting> _queue = Channel.CreateUnbounded<Waiting>();
    private int _senders;

    /// <summary>Submits one job (the client's validated bytes) and returns the node's answer for it.</summary>
    public Task<NodeAnswer> SubmitAsync(byte[] job, string? traceParent, CancellationToken token)
    {
        var waiting = new Waiting(job, traceParent, new TaskCompletionSource<NodeAnswer>(TaskCreationOptions.RunContinuationsAsynchronously), token);
        _queue.Writer.TryWrite(waiting);
        StartSender();
        return waiting.Answer.Task.WaitAsync(token);
    }

    private void StartSender()
    {
        while (true)
        {
            var running = Volatile.Read(ref _senders);
            if (running >= MaxSenders || _queue.Reader.Count == 0)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _senders, running + 1, running) == running)
            {
                break;
            }
        }

        // Not under the request that happened to start it: a shared send is nobody's child span.
        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(SendLoopAsync);
        }
    }

    private async Task SendLoopAsync()
    {
        var batch = new List<Waiting>(MaxItems);
        try
        {
            while (Take(batch))
            {
                await SendAsync(batch);
                batch.Clear();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _senders);
        }

        // A submit queued after the last Take but before the decrement saw every sender busy.
        StartSender();
    }

    private bool Take(List<Waiting> batch)
    {
        long bytes = 0;
        while (batch.Count < MaxItems && bytes < MaxBytes && _queue.Reader.TryRead(out var next))
        {
            if (next.Token.IsCancellationRequested)
            {
                // The client left before its job was sent: it is not sent at all.
                next.Answer.TrySetCanceled(next.Token);
                continue;
            }

            batch.Add(next);
            bytes += next.Job.Length;
        }

        return batch.Count > 0;
    }

    private async Task SendAsync(List<Waiting> batch)
    {
        try
        {
            // Not any one client's token: the request carries the others' jobs too.
            var answer = await nodes.WriteAsync(HttpMethod.Post, "cluster/submit", Encode(batch), "application/json", lifetime.ApplicationStopping);
            if (answer.Status != HttpStatusCode.OK)
            {
                foreach (var waiting in batch)
                {
                    waiting.Answer.TrySetResult(answer);
                }

                return;
            }

            var items = JsonSerializer.Deserialize<SubmitItemAnswer[]>(answer.Body, FlotillaJson.Options);
            if (items is null || items.Length != batch.Count)
            {
                throw new ClusterUnavailableException(502, "The node's answer did not match the request.",
                    $"{answer.Node} answered {items?.Length ?? 0} items for {batch.Count}; the jobs may or may not be stored. Retry with an idempotency_key to be safe.");
            }

            for (var i = 0; i < items.Length; i++)
            {
                batch[i].Answer.TrySetResult(new NodeAnswer(answer.Node, (HttpStatusCode)items[i].Status, JsonSerializer.SerializeToUtf8Bytes(items[i].Body), null, null));
            }
        }
        catch (Exception ex)
        {
            foreach (var waiting in batch)
            {
                waiting.Answer.TrySetException(ex);
            }
        }
    }

    private static byte[] Encode(List<Waiting> batch)
    {
        var buffer = new ArrayBufferWriter<byte>(batch.Sum(w => w.Job.Length + 128));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var waiting in batch)
            {
                writer.WriteStartObject();
                if (waiting.TraceParent is not null)
                {
                    writer.WriteString("trace_parent", waiting.TraceParent);
                }

                // The client's own bytes, checked by the Api already: the node reads exactly what was validated.
                writer.WritePropertyName("job");
                writer.WriteRawValue(waiting.Job, skipInputValidation: true);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private sealed record Waiting(byte[] Job, string? TraceParent, TaskCompletionSource<NodeAnswer> Answer, CancellationToken Token);
}
