using System.Text.Json;

namespace Flotilla.Client.Tests;

public sealed class WireFormatTests
{
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1_767_225_600_000);

    [Fact]
    public void AJobIsWrittenExactlyAsTheContractShowsIt()
    {
        var job = new Job(
            "0193", JobStatus.Completed, "echo", "default", 0, Parse("""{"a":1}"""), 1, 5, "node1", "node2",
            At, At, At, null, Parse("""{"ok":true}"""), null, null, null, At);

        Assert.Equal(
            """{"job_id":"0193","status":"completed","workflow":"echo","queue":"default","priority":0,"payload":{"a":1},"attempts":1,"max_attempts":5,"claimed_by":"node1","completed_by":"node2","run_at":"2026-01-01T00:00:00+00:00","created_at":"2026-01-01T00:00:00+00:00","updated_at":"2026-01-01T00:00:00+00:00","lease_until":null,"result":{"ok":true},"error":null,"idempotency_key":null,"timeout_ms":null,"started_at":"2026-01-01T00:00:00+00:00"}""",
            JsonSerializer.Serialize(job, FlotillaJson.Options));
    }

    [Fact]
    public void FieldsANewerServerAddsAreKeptAndPassedOn()
    {
        var json = """{"job_id":"j","status":"pending","workflow":"echo","queue":"default","priority":0,"payload":null,"attempts":0,"max_attempts":5,"claimed_by":null,"completed_by":null,"run_at":"2026-01-01T00:00:00+00:00","created_at":"2026-01-01T00:00:00+00:00","updated_at":"2026-01-01T00:00:00+00:00","lease_until":null,"result":null,"error":null,"idempotency_key":null,"timeout_ms":null,"started_at":null,"shiny":42}""";

        var job = JsonSerializer.Deserialize<Job>(json, FlotillaJson.Options)!;

        Assert.Equal(42, job.Extra!["shiny"].GetInt32());
        Assert.Equal(json, JsonSerializer.Serialize(job, FlotillaJson.Options));
    }

    [Fact]
    public void StatusesAreSnakeCaseStrings()
    {
        Assert.Equal("\"cancelled\"", JsonSerializer.Serialize(JobStatus.Cancelled, FlotillaJson.Options));
        Assert.Equal(JobStatus.Running, JsonSerializer.Deserialize<JobStatus>("\"running\"", FlotillaJson.Options));
    }

    [Fact]
    public void ClusterHealthKeepsItsFieldOrder()
    {
        var health = new ClusterHealthView(true, 3, true, "node1", "http://127.0.0.1:5101/", 2, 40, "node2", "member", ["node1", "node2", "node3"]);

        Assert.Equal(
            """{"is_healthy":true,"node_count":3,"has_leader":true,"leader":"node1","leader_url":"http://127.0.0.1:5101/","term":2,"commit_index":40,"node_id":"node2","state":"member","members":["node1","node2","node3"]}""",
            JsonSerializer.Serialize(health, FlotillaJson.Options));
    }

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
