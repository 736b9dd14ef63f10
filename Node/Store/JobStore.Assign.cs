using System.Text;
using System.Text.Json;

namespace Flotilla.Node.Store;

// Assignment: due pending jobs go to live workers with free credit inside apply, so claiming
// costs no log entry of its own and nodes never race each other for a job.
internal sealed partial class JobStore
{
    private CommandResult Offer(OfferCapacity command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.Node) || command.Node.Length > MaxIdLength)
        {
            return new Rejected($"offer_capacity: node must be 1..{MaxIdLength} characters");
        }

        if (command.Capacity < 0 || command.LeaseMs <= 0 || command.AliveMs <= 0 || command.Ready < 0)
        {
            return new Rejected("offer_capacity: capacity and ready must not be negative, lease_ms and alive_ms must be positive");
        }

        Write(Schema.WorkerOffer)
            .With("$node", command.Node)
            .With("$capacity", command.Capacity)
            .With("$lease_ms", command.LeaseMs)
            .With("$alive_until", now + command.AliveMs)
            .With("$ready", command.Ready)
            .ExecuteNonQuery();
        return new CountResult(1);
    }

    /// <summary>
    /// Hands due pending jobs, in claim order, to live workers with free credit. The entry's
    /// leader takes the next job first while it holds fewer than it offered as ready (one of its
    /// slots is free, so it starts the job at once). Otherwise shares follow credit (each next
    /// job counts for the worker with the most credit left, ties by name), so a burst spreads
    /// evenly and a slow node, whose credit stays used, gets less. Each worker's share is then
    /// taken in one statement, workers in name order.
    /// </summary>
    /// <remarks>
    /// Why the leader first: it applies an entry before anyone, so its worker starts a job as the
    /// submit is acknowledged; a follower learns of the commit a replication round later and
    /// applies it only after flushing that round's entries. At 500 jobs/s the leader's own jobs
    /// started within 2 ms of their acknowledgement and the followers' up to 10–50 ms: the whole
    /// p99, and at low rates credit (which follows each node's measured run time) sent most jobs
    /// to the followers. Its slots, not its credit, bound it, so no job queues on the leader
    /// behind running ones while a follower's slots are idle.
    /// </remarks>
    private void AssignDueJobs(long now, string? leader)
    {
        if (ScalarLongInWriter(Schema.NextPendingRunAt) is not { } due || due > now)
        {
            return;
        }

        var workers = new List<(string Node, int Free, long LeaseMs, int Ready)>();
        using (var live = Write(Schema.WorkersLive).With("$now", now).ExecuteReader())
        {
            while (live.Read())
            {
                var node = live.GetString(0);
                workers.Add((node, live.GetInt32(1) - _heldByNode.GetValueOrDefault(node), live.GetInt64(2), live.IsDBNull(3) ? 0 : live.GetInt32(3)));
            }
        }

        var free = workers.Sum(w => Math.Max(0, w.Free));
        if (free == 0)
        {
            return;
        }

        var shares = new int[workers.Count];
        var first = leader is null ? -1 : workers.FindIndex(w => w.Node == leader);
        var leaderRoom = first < 0 ? 0 : Math.Min(workers[first].Free, workers[first].Ready - _heldByNode.GetValueOrDefault(leader!));
        var pending = CountDue(now, free);
        for (var n = 0; n < pending; n++)
        {
            var best = -1;
            if (first >= 0 && shares[first] < leaderRoom)
            {
                best = first;
            }
            else
            {
                for (var i = 0; i < workers.Count; i++)
                {
                    if (workers[i].Free - shares[i] > 0 && (best < 0 || workers[i].Free - shares[i] > workers[best].Free - shares[best]))
                    {
                        best = i;
                    }
                }
            }

            shares[best]++;
        }

        for (var i = 0; i < workers.Count; i++)
        {
            if (shares[i] == 0)
            {
                continue;
            }

            var (node, _, leaseMs, _) = workers[i];
            var local = node == _localNode;
            var assign = Prepared(local ? Schema.JobsAssignDueReturning : Schema.JobsAssignDue)
                .With("$node", node)
                .With("$now", now)
                .With("$lease_ms", leaseMs)
                .With("$max", shares[i]);
            int count;
            if (local)
            {
                var jobs = assign.ReadJobs();
                jobs.Sort(ClaimOrder.Instance);
                _assigned!.AddRange(jobs);
                count = jobs.Count;
            }
            else
            {
                count = assign.ExecuteNonQuery();
            }

            AddHeld(node, count);
        }
    }

    private int CountDue(long now, int max) =>
        (int)(long)Write(Schema.JobsCountDue).With("$now", now).With("$max", max).ExecuteScalar()!;

    // Running jobs per node, kept in step with every change into or out of 'running' so that
    // assignment (after every entry) does not count them in the database each time. Rebuilt
    // from the table whenever a change may have been rolled back, and after a snapshot.
    private void AddHeld(string node, int delta)
    {
        if (delta != 0)
        {
            _heldByNode[node] = _heldByNode.GetValueOrDefault(node) + delta;
        }
    }

    private void RecountHeld()
    {
        _heldByNode.Clear();
        using var held = Write(Schema.JobsHeldByNode).ExecuteReader();
        while (held.Read())
        {
            _heldByNode[held.GetString(0)] = held.GetInt32(1);
        }
    }

    private long? ScalarLongInWriter(string sql) => Write(sql).ExecuteScalar() is long value ? value : null;

    private CommandResult Claim(ClaimJobs command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.Node))
        {
            return new Rejected("claim_jobs: node is required");
        }

        if (command.Max < 0 || command.LeaseMs <= 0)
        {
            return new Rejected("claim_jobs: max must not be negative and lease_ms must be positive");
        }

        if (command.Max == 0 || command.Queues is { Count: 0 })
        {
            return new JobsResult([]);
        }

        var claim = Write(Schema.JobClaim)
            .With("$node", command.Node)
            .With("$now", now)
            .With("$lease_ms", command.LeaseMs)
            .With("$max", command.Max)
            .With("$queues", command.Queues is null ? null : JsonArray(command.Queues));
        var won = JobRow.ReadAll(claim);
        won.Sort(ClaimOrder.Instance);
        AddHeld(command.Node, won.Count);
        return new JobsResult(won);
    }

    private static string JsonArray(IReadOnlyList<string> values)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var value in values)
            {
                json.WriteStringValue(value);
            }

            json.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// The claim order (priority desc, run_at, job_id), with ids compared as UTF-8 bytes like
    /// SQLite's BINARY collation, so the result lists jobs in the order they were chosen.
    /// </summary>
    private sealed class ClaimOrder : IComparer<Job>
    {
        public static readonly ClaimOrder Instance = new();

        public int Compare(Job? x, Job? y)
        {
            if (x is null || y is null)
            {
                return x is null ? (y is null ? 0 : -1) : 1;
            }

            var byPriority = y.Priority.CompareTo(x.Priority);
            if (byPriority != 0)
            {
                return byPriority;
            }

            var byRunAt = x.RunAt.CompareTo(y.RunAt);
            return byRunAt != 0
                ? byRunAt
                : Encoding.UTF8.GetBytes(x.JobId).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y.JobId));
        }
    }
}
