using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Workflows.Durable;

/// <summary>
/// Sends the <c>http</c> side effects of durable guests through a named <see cref="HttpClient"/>
/// (<see cref="ClientName"/>: no retries, no redirects, <c>Durable:HttpTimeoutMs</c>), to the
/// hosts <c>Durable:HttpAllow</c> names only. Every request carries
/// <c>Idempotency-Key: &lt;job_id&gt;:&lt;seq&gt;</c>.
/// </summary>
internal sealed class HttpCalls(IHttpClientFactory clients, IOptions<DurableHttpOptions> options)
{
    public const string ClientName = "flotilla-durable-http";
    public const string IdempotencyHeader = "Idempotency-Key";

    private readonly HttpAllowList _allow = new(options.Value.HttpAllow);

    /// <summary>Registers the named client: no resilience handler (a retried POST is a repeated side effect), no redirects (they could leave the allow list).</summary>
    public static void AddTo(IServiceCollection services)
    {
        services.AddOptions<DurableHttpOptions>()
            .BindConfiguration(DurableHttpOptions.Section)
            .Validate(o => o.HttpTimeoutMs > 0, "Durable:HttpTimeoutMs must be positive.")
            .ValidateOnStart();
#pragma warning disable EXTEXP0001 // The one way to opt a client out of ServiceDefaults' standard resilience (marked experimental in 10.x).
        services.AddHttpClient(ClientName, (sp, client) =>
            {
                client.Timeout = TimeSpan.FromMilliseconds(sp.GetRequiredService<IOptions<DurableHttpOptions>>().Value.HttpTimeoutMs);
            })
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false })
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        services.AddSingleton<HttpCalls>();
    }

    public bool Allows(Uri url) => _allow.Allows(url);

    /// <summary>
    /// Sends the request and returns the journaled result: the response JSON
    /// (<c>{"status", "headers", "body"}</c>) or an error (<see cref="CallOutcome"/>): -2 when it
    /// is over <see cref="RunJournal.MaxEntryBytes"/>, -3 when no answer came (refused, reset,
    /// timed out: whether the receiver acted is unknown). Throws only when <paramref name="token"/> is cancelled.
    /// </summary>
    public async Task<byte[]> SendAsync(HttpCallRequest call, string idempotencyKey, CancellationToken token)
    {
        using var request = new HttpRequestMessage(call.Method, call.Url);
        if (call.Body is not null)
        {
            request.Content = new StringContent(call.Body, Encoding.UTF8);
            request.Content.Headers.ContentType = null;
        }

        foreach (var (name, value) in call.Headers)
        {
            if (string.Equals(name, IdempotencyHeader, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        if (call.Body is not null && request.Content!.Headers.ContentType is null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "text/plain; charset=utf-8");
        }

        request.Headers.TryAddWithoutValidation(IdempotencyHeader, idempotencyKey);
        try
        {
            using var response = await clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
            var body = await ReadCappedAsync(response.Content, token).ConfigureAwait(false);
            return body is null ? CallOutcome.Error(CallOutcome.TooLarge) : Encode(response, body);
        }
        catch (Exception e) when (!token.IsCancellationRequested && e is not OutOfMemoryException)
        {
            // Refused, reset, timed out, or a header the transport would not send: the intent is
            // committed, so whether the receiver acted is unknown to the job.
            Activity.Current?.AddEvent(new ActivityEvent("flotilla.http_error", tags: new ActivityTagsCollection { ["message"] = e.Message }));
            return CallOutcome.Error(CallOutcome.Interrupted);
        }
    }

    // Null when the body alone is over the entry limit: it is never read whole.
    private static async Task<byte[]?> ReadCappedAsync(HttpContent content, CancellationToken token)
    {
        using var body = new MemoryStream();
        var stream = await content.ReadAsStreamAsync(token).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(buffer, token).ConfigureAwait(false)) > 0)
            {
                if (body.Length + read > RunJournal.MaxEntryBytes)
                {
                    return null;
                }

                body.Write(buffer, 0, read);
            }
        }

        return body.ToArray();
    }

    private static byte[] Encode(HttpResponseMessage response, byte[] body)
    {
        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteNumber("status", (int)response.StatusCode);
            writer.WriteStartObject("headers");
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                writer.WriteString(name.ToLowerInvariant(), string.Join(", ", values));
            }

            writer.WriteEndObject();
            // Text as sent; bytes that are not UTF-8 become U+FFFD.
            writer.WriteString("body", Encoding.UTF8.GetString(body));
            writer.WriteEndObject();
        }

        return json.Length > RunJournal.MaxEntryBytes ? CallOutcome.Error(CallOutcome.TooLarge) : json.ToArray();
    }
}
