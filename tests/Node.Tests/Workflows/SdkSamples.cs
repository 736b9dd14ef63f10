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
        File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, PathOf(language, http ? "lucky_http.wasm" : "lucky.wasm")));

    // The C samples are copied to Sdk/ itself (where the older tests look), the others to Sdk/<language>/.
    private static string PathOf(string language, string name) => language == "c" ? Path.Combine("Sdk", name) : Path.Combine("Sdk", language, name);
}
