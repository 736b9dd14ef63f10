namespace Flotilla.Cluster.Tests;

/// <summary>Finds the Node.dll built alongside these tests (same configuration), to run it as a process.</summary>
internal static class NodeBinary
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = here.Parent?.Name ?? "Debug"; // bin/<Configuration>/net10.0/
        for (var dir = here; dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "aspire.sln")))
            {
                var candidate = System.IO.Path.Combine(dir.FullName, "Node", "bin", configuration, "net10.0", "Node.dll");
                return File.Exists(candidate)
                    ? candidate
                    : throw new FileNotFoundException($"Node is not built for {configuration}: {candidate}");
            }
        }

        throw new DirectoryNotFoundException("aspire.sln not found above " + AppContext.BaseDirectory);
    }
}
