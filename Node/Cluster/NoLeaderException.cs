namespace Flotilla.Node.Cluster;

/// <summary>No leader is known (election under way, or no majority): the write can be retried later.</summary>
internal sealed class NoLeaderException(string message) : Exception(message);

/// <summary>A forwarded write left this node and its answer was lost: it may or may not be applied.</summary>
internal sealed class WriteOutcomeUnknownException(string message) : Exception(message);

/// <summary>A command that must not be proposed (malformed or incomplete): nothing was written.</summary>
internal sealed class InvalidCommandException(string message) : Exception(message);
