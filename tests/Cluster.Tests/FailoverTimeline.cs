using System.Collections.Concurrent;
using System.Globalization;

namespace Flotilla.Cluster.Tests;

/// <summary>
/// The phases of a failover as the processes themselves logged them, on one time line (the
/// load's): a survivor giving up on the leader (its "Leader is now none"), the new leader taking
/// office ("Leader is now" its own endpoint), its first commit of the term, and the Api learning
/// of it. A line is timed when it reaches the test, a few milliseconds after it was written.
/// </summary>
internal sealed class FailoverTimeline
{
    private readonly ConcurrentQueue<Mark> _marks = new();
    private readonly Func<double> _now;
    private readonly IReadOnlyList<NodeProcess> _nodes;

    public FailoverTimeline(IReadOnlyList<NodeProcess> nodes, ApiProcess? api, Func<double> now)
    {
        _nodes = nodes;
        _now = now;
        foreach (var node in nodes)
        {
            node.OutputLine += line => ObserveNode(node.NodeId, line);
        }

        if (api is not null)
        {
            api.OutputLine += line =>
            {
                if (line.Contains("Leader is ", StringComparison.Ordinal) && line.Contains(" at http", StringComparison.Ordinal))
                {
                    _marks.Enqueue(new Mark(_now(), "api", Kind.ApiFound, line.Trim()));
                }
            };
        }
    }

    private enum Kind
    {
        LeaderLost,
        LeaderKnown,
        TermCommitted,
        ApiFound,
    }

    /// <summary>What happened between a leader's kill and <paramref name="until"/>.</summary>
    public Phases After(string victim, double killAt, double until, IReadOnlyList<double> acks)
    {
        var marks = _marks.Where(m => m.At >= killAt && m.At < until).OrderBy(m => m.At).ToList();
        var survivors = _nodes.Where(n => n.NodeId != victim).Select(n => n.NodeId).ToHashSet();
        var lost = marks.FirstOrDefault(m => m.Kind == Kind.LeaderLost && survivors.Contains(m.Node));
        var elected = marks.FirstOrDefault(m => m.Kind == Kind.LeaderKnown && survivors.Contains(m.Node) && m.Detail == Endpoint(m.Node));
        var committed = elected is null ? null : marks.FirstOrDefault(m => m.Kind == Kind.TermCommitted && m.Node == elected.Node && m.At >= elected.At);
        var apiFound = elected is null ? null : marks.FirstOrDefault(m => m.Kind == Kind.ApiFound && m.At >= elected.At);
        var firstAck = acks.Where(a => a > killAt && a <= until).DefaultIfEmpty().Min();
        var rounds = marks.Count(m => m.Kind == Kind.LeaderLost && survivors.Contains(m.Node) && (elected is null || m.At <= elected.At));
        return new Phases(
            killAt,
            lost?.At - killAt,
            elected?.Node,
            elected?.At - killAt,
            committed?.At - killAt,
            apiFound?.At - killAt,
            firstAck > 0 ? firstAck - killAt : null,
            rounds);
    }

    private string Endpoint(string nodeId) =>
        "127.0.0.1:" + _nodes.Single(n => n.NodeId == nodeId).RaftPort.ToString(CultureInfo.InvariantCulture);

    private void ObserveNode(string nodeId, string line)
    {
        var at = _now();
        var leaderAt = line.IndexOf("Leader is now ", StringComparison.Ordinal);
        if (leaderAt >= 0)
        {
            var leader = line[(leaderAt + "Leader is now ".Length)..].Split(' ')[0];
            _marks.Enqueue(new Mark(at, nodeId, leader == "none" ? Kind.LeaderLost : Kind.LeaderKnown, leader));
        }
        else if (line.Contains("its first entry committed", StringComparison.Ordinal))
        {
            _marks.Enqueue(new Mark(at, nodeId, Kind.TermCommitted, null));
        }
    }

    private sealed record Mark(double At, string Node, Kind Kind, string? Detail);

    /// <summary>Seconds after the kill at which each phase was seen (null: not seen before the next fault).</summary>
    public sealed record Phases(
        double KillAt, double? LeaderLost, string? NewLeader, double? Elected, double? Committed, double? ApiFound, double? FirstAck, int LostMarks)
    {
        public override string ToString()
        {
            static string Ms(double? seconds) => seconds is { } s ? (s * 1000).ToString("0", CultureInfo.InvariantCulture) + " ms" : "-";
            return $"survivor gave up on the leader +{Ms(LeaderLost)}, {NewLeader ?? "no one"} elected +{Ms(Elected)}, its first commit +{Ms(Committed)}, Api found it +{Ms(ApiFound)}, first write acknowledged +{Ms(FirstAck)} ({LostMarks} give-ups before the election)";
        }
    }
}
