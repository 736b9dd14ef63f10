using System.Text.Json;

namespace Flotilla.Node.Workflows.Durable;

/// <summary>
/// The request of a guest's <c>call("http", …)</c>:
/// <c>{"method", "url", "headers"?: {name: value}, "body"?: string}</c>. Fields it does not know are ignored.
/// </summary>
internal sealed record HttpCallRequest(HttpMethod Method, Uri Url, IReadOnlyList<KeyValuePair<string, string>> Headers, string? Body)
{
    private const int SummaryUrlChars = 200;

    /// <summary>A short readable form for the journal and the span: <c>http POST https://a/x</c>.</summary>
    public string Summary
    {
        get
        {
            var url = Url.OriginalString;
            return $"http {Method.Method} {(url.Length > SummaryUrlChars ? url[..SummaryUrlChars] + "…" : url)}";
        }
    }

    /// <summary>The request, or null when it is not one (the guest then gets -1).</summary>
    public static HttpCallRequest? Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("url", out var url) || url.ValueKind != JsonValueKind.String
                || !Uri.TryCreate(url.GetString(), UriKind.Absolute, out var uri)
                || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                return null;
            }

            var name = method.GetString()!;
            if (name.Length == 0 || name.Length > 32 || !name.All(c => char.IsAsciiLetterUpper(c) || c == '-'))
            {
                return null;
            }

            var headers = new List<KeyValuePair<string, string>>();
            if (root.TryGetProperty("headers", out var headerObject) && headerObject.ValueKind != JsonValueKind.Null)
            {
                if (headerObject.ValueKind != JsonValueKind.Object)
                {
                    return null;
                }

                foreach (var header in headerObject.EnumerateObject())
                {
                    if (header.Value.ValueKind != JsonValueKind.String)
                    {
                        return null;
                    }

                    headers.Add(new(header.Name, header.Value.GetString()!));
                }
            }

            string? body = null;
            if (root.TryGetProperty("body", out var bodyValue) && bodyValue.ValueKind != JsonValueKind.Null)
            {
                if (bodyValue.ValueKind != JsonValueKind.String)
                {
                    return null;
                }

                body = bodyValue.GetString();
            }

            return new HttpCallRequest(new HttpMethod(name), uri, headers, body);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
