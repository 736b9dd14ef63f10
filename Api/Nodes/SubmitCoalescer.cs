using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Flotilla.Client;
using Flotilla.Node.Apis;

namespace Flotilla.Api.Nodes;

/// <summary>
/// Single <c>POST /jobs</c> requests, sent to the leader together. A lone submit goes at once;
/// submits that arrive while a request is in flight wait for the next one and share it
/// (<c>POST /cluster/submit</c>), so at 64 concurrent clients a job no longer costs an HTTP round
/// trip Api → leader of its own. Under light load every submit is sent alone, as before.
/// <para>
/// One request in flight is the cheapest (fewer, larger log entries), but behind a slow commit
/// (a disk whose flush takes hundreds of milliseconds) it made every submit wait for the request
/// before it as well as its own: with 8 clients and 200 ms flushes a submit took 1.6–2.0 s where
/// one alone took 0.67 s. So a request older than <see cref="SlowSend"/> no longer holds back
/// the next: another sender starts (up to <see cref="MaxSenders"/>), and the node's group commit
/// puts what arrives meanwhile in the same replication round.
/// </para>
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
    /// Requests to the leader in flight at once, at most. While sends are quick there is one:
    /// the longer a send takes, the more the next one carries, and fewer, larger entries are what
    /// costs least on every node (with 64 clients, one sender carried ~30 jobs a request, ~6 ms a
    /// send; four senders always on cost the leader ~60 % and each follower ~40 % more CPU per
    /// job, measured with <c>--only singles</c>).
    /// </summary>
    public const int MaxSenders = 4;

    /// <summary>
    /// How long the newest request may be in flight before a waiting submit gets a sender of its
    /// own: well above a send on a healthy cluster (a few ms), well below a commit on a slow disk.
    /// </summary>
    public static readonly TimeSpan SlowSend = TimeSpan.FromMilliseconds(50);

    private const int MaxItems = 256;

    // Far below a node's 28 MiB body limit; one item always fits (a job is at most ~1 MiB).
    private const int MaxBytes = 4 * 1024 * 1024;

    private readonly Channel<Waiting> _queue = Channel.CreateUnbounded<Waiting>();
    private int _senders;
    private long _newestSend; // Stopwatch timestamp of the newest request's start
    private int _checkPending;

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

            if (running > 0 && Stopwatch.GetElapsedTime(Volatile.Read(ref _newestSend)) is var age && age < SlowSend)
            {
                // Young: the waiting submits ride the next request of a running sender, unless it
                // is still in flight when it turns slow.
                CheckAgainAfter(SlowSend - age);
                return;
            }

            if (Interlocked.CompareExchange(ref _senders, running + 1, running) == running)
            {
                Volatile.Write(ref _newestSend, Stopwatch.GetTimestamp()); // before its Take: no second sender on the same age
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
                var started = Stopwatch.GetTimestamp();
                Volatile.Write(ref _newestSend, started);
                await SendAsync(batch);
                batch.Clear();
                if (Stopwatch.GetElapsedTime(started) < SlowSend && Volatile.Read(ref _senders) > 1)
                {
                    break; // quick again: the others carry on, fewer and larger requests
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _senders);
        }

        // A submit queued after the last Take but before the decrement saw every sender busy.
        StartSender();
    }

    private void CheckAgainAfter(TimeSpan delay)
    {
        if (Interlocked.Exchange(ref _checkPending, 1) == 1)
        {
            return;
        }

        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Delay(delay, lifetime.ApplicationStopping).ContinueWith(
                _ =>
                {
                    Volatile.Write(ref _checkPending, 0);
                    StartSender();
                },
                CancellationToken.None,
                TaskContinuationOptions.None,
                TaskScheduler.Default);
        }
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
