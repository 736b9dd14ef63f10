namespace Flotilla.Node.Cluster;

/// <summary>No leader is known (election under way, or no majority): the write can be retried later.</summary>
internal sealed class NoLeaderException(string message) : Exception(message);
