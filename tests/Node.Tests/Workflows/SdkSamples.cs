namespace Flotilla.Node.Tests.Workflows;

/// <summary>
/// The guest SDKs' <c>lucky</c> samples (Sdk/&lt;language&gt;/sample, built by each SDK's build.sh):
/// the same workflow in C, Rust and AssemblyScript, so one test covers all three.
/// </summary>
internal static class SdkSamples
{
    public static TheoryData<string> Languages => new() { "c", "rust", "assemblyscript" };

    /// <summary>The languages whose sample also has a build with its HTTP part (<c>lucky_http.wasm</c>).</summary>
    public static TheoryData<string> HttpLanguages => new() { "rust", "assemblyscript" };

    public static byte[] Lucky(string language, bool http = false) =>
        File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Sdk", language, http ? "lucky_http.wasm" : "lucky.wasm"));
}
