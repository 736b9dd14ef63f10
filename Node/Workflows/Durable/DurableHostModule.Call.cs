using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using Wasmtime;

namespace Flotilla.Node.Workflows.Durable;

// call(op, request, flags) -> i64 and response_read(ptr, cap) -> i32: side effects. An http call
// commits an intent (with the cheap calls buffered before it) before it is sent and its result
// after, both fenced by the claim; a replay answers from the result, and an intent without one
// answers -3, or with flag 1 is sent again under the same Idempotency-Key.
internal sealed partial class DurableHostModule
{
    /// <summary>Flag 1: on replay, an interrupted call is sent again instead of answering -3.</summary>
    public const int IdempotentFlag = 1;

    private readonly HttpCalls? _http;

    /// <summary>With outbound HTTP; without it every <c>http</c> call is denied (-4).</summary>
    public DurableHostModule(TimeProvider time, HttpCalls http, IOptions<DurableOptions>? options = null)
        : this(time, options) => _http = http;

    private void DefineCalls(Linker linker)
    {
        linker.DefineFunction(ModuleName, "call", new CallerFunc<int, int, int, int, int, long>(Call));
        linker.DefineFunction(ModuleName, "response_read", new CallerFunc<int, int, int>(ResponseRead));
    }

    private long Call(Caller caller, int opPointer, int opLength, int requestPointer, int requestLength, int flags)
    {
        if (opLength is < 0 or > 64 || requestLength < 0 || !TrySpan(caller, opPointer, opLength, out var opBytes))
        {
            return CallOutcome.BadArgument;
        }

        if (Encoding.UTF8.GetString(opBytes) != "http")
        {
            return CallOutcome.BadArgument;
        }

        if (requestLength > MaxEntryBytes)
        {
            return CallOutcome.TooLarge;
        }

        if (!TrySpan(caller, requestPointer, requestLength, out var requestBytes) || HttpCallRequest.Parse(requestBytes) is not { } request)
        {
            return CallOutcome.BadArgument;
        }

        var run = RunContext.Of(caller);
        var journal = Journal(caller);
        var summary = request.Summary;
        // The hash covers the whole request as the guest wrote it (headers and body too); the
        // journal keeps only the summary, so a secret in a header is never stored.
        var hash = RunJournal.Hash("http", Encoding.UTF8.GetString(requestBytes));
        var response = Responses(run);

        if (journal.Recorded("http", hash, summary) is { } recorded)
        {
            if (!recorded.Intent)
            {
                return response.Answer(recorded.Response);
            }

            // Sent by an earlier attempt that never learnt the outcome.
            if ((flags & IdempotentFlag) == 0)
            {
                var interrupted = journal.Complete(recorded, CallOutcome.Error(CallOutcome.Interrupted));
                RunJournal.Traced(interrupted, CallOutcome.Describe(CallOutcome.Interrupted));
                return response.Answer(interrupted.Response);
            }

            return Send(run, journal, response, recorded, request);
        }

        var seq = journal.NextSeq;
        if (_http is null || !_http.Allows(request.Url))
        {
            // Journaled like any answer, so a replay answers -4 too whatever HttpAllow says then.
            var denied = journal.Record(new HostCall(seq, "http", hash, summary, CallOutcome.Error(CallOutcome.Denied), UnixMs()));
            RunJournal.Traced(denied, CallOutcome.Describe(CallOutcome.Denied));
            return response.Answer(denied.Response);
        }

        var intent = journal.Record(new HostCall(seq, "http", hash, summary, [], UnixMs(), Intent: true));
        // The intent (and the cheap calls before it) reach the log before anything is sent.
        journal.CommitPending(run.Watch);
        return Send(run, journal, response, intent, request);
    }

    private long Send(RunContext run, RunJournal journal, LastResponse response, HostCall intent, HttpCallRequest request)
    {
        byte[] result;
        if (_http is null || !_http.Allows(request.Url))
        {
            result = CallOutcome.Error(CallOutcome.Denied);
        }
        else
        {
            var key = string.Create(CultureInfo.InvariantCulture, $"{run.Run.JobId}:{intent.Seq}");
            using var abort = new CancellationTokenSource();
            var sending = _http.SendAsync(request, key, abort.Token);
            try
            {
                // Through the run's watch: the deadline or a cancel stops the guest mid-call, and
                // the intent stays without a result (the next attempt decides: -3 or re-send).
                run.Watch.Wait(sending);
            }
            finally
            {
                if (!sending.IsCompleted)
                {
                    abort.Cancel();
                }
            }

            result = sending.GetAwaiter().GetResult();
        }

        var done = journal.Complete(intent, result);
        var code = CallOutcome.Code(result);
        RunJournal.Traced(done, code >= 0 ? ResponseStatus(result) : CallOutcome.Describe(code));
        journal.CommitPending(run.Watch);
        return response.Answer(result);
    }

    private int ResponseRead(Caller caller, int pointer, int capacity)
    {
        if (capacity < 0)
        {
            return (int)CallOutcome.BadArgument;
        }

        var last = Responses(RunContext.Of(caller)).Bytes;
        var count = Math.Min(capacity, last.Length);
        if (!TrySpan(caller, pointer, count, out var target))
        {
            return (int)CallOutcome.BadArgument;
        }

        last.AsSpan(0, count).CopyTo(target);
        return count;
    }

    private static LastResponse Responses(RunContext run)
    {
        if (run.Get<LastResponse>() is { } response)
        {
            return response;
        }

        response = new LastResponse();
        run.Set(response);
        return response;
    }

    // "status 200" for the span, read back from the response JSON.
    private static string ResponseStatus(byte[] response)
    {
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(response);
            return "status " + json.RootElement.GetProperty("status").GetInt32().ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return "done";
        }
    }

    /// <summary>The last response of a run's calls, for <c>response_read</c>.</summary>
    private sealed class LastResponse
    {
        public byte[] Bytes { get; private set; } = [];

        public long Answer(byte[] journaled)
        {
            var code = CallOutcome.Code(journaled);
            Bytes = code >= 0 ? journaled : [];
            return code;
        }
    }
}
