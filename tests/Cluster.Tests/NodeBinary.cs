namespace Flotilla.Cluster.Tests;

/// <summary>Finds the Node.dll (and Api.dll) built alongside these tests (same configuration), to run as processes.</summary>
internal static class NodeBinary
{
    private static readonly Lazy<string> _node = new(() => Find("Node"));
    private static readonly Lazy<string> _api = new(() => Find("Api"));

    public static string Path => _node.Value;

    public static string ApiPath => _api.Value;

    /// <summary>A built-in workflow's module, as the node's sources hold it.</summary>
    public static string BuiltinModule(string name)
    {
        var nodeBin = new FileInfo(Path).Directory!;
        var root = nodeBin.Parent!.Parent!.Parent!.Parent!.FullName;
        return System.IO.Path.Combine(root, "Node", "Workflows", "Builtin", name + ".wasm");
    }

    private static string Find(string project)
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = here.Parent?.Name ?? "Debug"; // bin/<Configuration>/net10.0/
        for (var dir = here; dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "aspire.sln")))
            {
                var candidate = System.IO.Path.Combine(dir.FullName, project, "bin", configuration, "net10.0", project + ".dll");
                return File.Exists(candidate)
                    ? candidate
                    : throw new FileNotFoundException($"{project} is not built for {configuration}: {candidate}");
            }
        }

        throw new DirectoryNotFoundException("aspire.sln not found above " + AppContext.BaseDirectory);
    }
}
