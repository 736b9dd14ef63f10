namespace Flotilla.Cluster.Tests;

/// <summary>Finds the Node.dll (and Api.dll) built alongside these tests (same configuration), to run as processes.</summary>
internal static class NodeBinary
{
    public static string Path { get; } = Find("Node");

    public static string ApiPath { get; } = Find("Api");

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
