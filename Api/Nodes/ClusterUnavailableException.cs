namespace Flotilla.Api.Nodes;

/// <summary>
/// The Api could not get an answer it can stand behind: no node reachable (503, retry), or a
/// write whose outcome is unknown (502/504, not retried by the Api: see <see cref="NodeClient"/>).
/// </summary>
internal sealed class ClusterUnavailableException(int status, string title, string detail) : Exception(detail)
{
    public int Status { get; } = status;

    public string Title { get; } = title;
}
