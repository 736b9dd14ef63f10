namespace Flotilla.Api.Apis;

/// <summary>
/// <c>GET /ui</c>: the jobs page, one static HTML file with its script inline (no JavaScript build
/// step), embedded in the assembly. It calls the Api's own routes from the browser. The page holds
/// no data, so it is served without a key; with <c>Api:Keys</c> set, the page asks for a key and
/// sends it (<c>X-Api-Key</c>) with every call, which the routes check as usual.
/// </summary>
internal static class UiApi
{
    private static readonly Lazy<byte[]> Page = new(() =>
    {
        using var stream = typeof(UiApi).Assembly.GetManifestResourceStream("Flotilla.Api.Ui.index.html")
            ?? throw new InvalidOperationException("The jobs page is not embedded in the Api assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    public static IEndpointRouteBuilder MapUi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/ui", () => Results.Bytes(Page.Value, "text/html; charset=utf-8")).ExcludeFromDescription().AllowAnonymous();
        return app;
    }
}
