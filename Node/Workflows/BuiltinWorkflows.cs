namespace Flotilla.Node.Workflows;

/// <summary>
/// The workflows every Flotilla build carries (sources and build.sh in Builtin/; the compiled
/// .wasm files are committed and embedded in Node.dll, so running a node needs no toolchain).
/// </summary>
internal static class BuiltinWorkflows
{
    private static readonly Lazy<IReadOnlyList<(string Name, byte[] Module, TimeSpan DefaultTimeout)>> _all = new(Load);

    public static IReadOnlyList<(string Name, byte[] Module, TimeSpan DefaultTimeout)> All => _all.Value;

    public static byte[] Get(string name) => All.Single(w => w.Name == name).Module;

    private static IReadOnlyList<(string, byte[], TimeSpan)> Load() =>
    [
        ("echo", Read("echo"), TimeSpan.FromSeconds(30)),
        ("fail", Read("fail"), TimeSpan.FromSeconds(30)),
        ("sleep", Read("sleep"), TimeSpan.FromSeconds(30)),
        // spin never ends on its own; a short default shows the timeout without a long wait.
        ("spin", Read("spin"), TimeSpan.FromSeconds(5)),
    ];

    private static byte[] Read(string name)
    {
        var resource = $"Flotilla.Node.Workflows.Builtin.{name}.wasm";
        using var stream = typeof(BuiltinWorkflows).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"{resource} is not embedded in Node.dll");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
