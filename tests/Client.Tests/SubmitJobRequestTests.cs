using System.Text.Json;

namespace Flotilla.Client.Tests;

public sealed class SubmitJobRequestTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("""{"workflow":"echo","payload":{"a":1}}""")]
    [InlineData("""{"workflow":"echo","payload":null,"queue":"mail.low","priority":-1000,"delay_ms":0,"max_attempts":100,"idempotency_key":"k","timeout_ms":86400000}""")]
    [InlineData("""{"workflow":"echo","payload":1,"priority":1000,"run_at":"2026-06-01T00:00:00Z","max_attempts":1,"timeout_ms":1}""")]
    public void AcceptsValidJobs(string json)
    {
        var errors = new Dictionary<string, string[]>();

        Assert.True(Parse(json).Validate(Now, "", errors), string.Join("; ", errors.Keys));
    }

    [Theory]
    [InlineData("""{"payload":1}""", "workflow")]
    [InlineData("""{"workflow":"no spaces","payload":1}""", "workflow")]
    [InlineData("""{"workflow":"echo","queue":"","payload":1}""", "queue")]
    [InlineData("""{"workflow":"echo","priority":1001}""", "priority")]
    [InlineData("""{"workflow":"echo","priority":-1001}""", "priority")]
    [InlineData("""{"workflow":"echo","delay_ms":-1}""", "delay_ms")]
    [InlineData("""{"workflow":"echo","delay_ms":100,"run_at":"2026-01-01T00:00:00Z"}""", "run_at")]
    [InlineData("""{"workflow":"echo","run_at":"2028-01-01T00:00:00Z"}""", "run_at")]
    [InlineData("""{"workflow":"echo","max_attempts":0}""", "max_attempts")]
    [InlineData("""{"workflow":"echo","max_attempts":101}""", "max_attempts")]
    [InlineData("""{"workflow":"echo","timeout_ms":0}""", "timeout_ms")]
    [InlineData("""{"workflow":"echo","timeout_ms":86400001}""", "timeout_ms")]
    [InlineData("""{"workflow":"echo","idempotency_key":""}""", "idempotency_key")]
    public void NamesTheBadField(string json, string field)
    {
        var errors = new Dictionary<string, string[]>();

        Assert.False(Parse(json).Validate(Now, "[7].", errors));
        Assert.Equal(["[7]." + field], errors.Keys);
    }

    [Fact]
    public void RefusesAnIdempotencyKeyLongerThan256()
    {
        var errors = new Dictionary<string, string[]>();

        Assert.False((Parse("""{"workflow":"echo"}""") with { IdempotencyKey = new string('k', 257) }).Validate(Now, "", errors));
        Assert.Contains("idempotency_key", errors.Keys);
    }

    [Fact]
    public void RefusesAPayloadOverOneMebibyte()
    {
        var payload = JsonSerializer.SerializeToElement(new string('x', JobRules.MaxPayloadBytes));
        var errors = new Dictionary<string, string[]>();

        Assert.False((Parse("""{"workflow":"echo"}""") with { Payload = payload }).Validate(Now, "", errors));
        Assert.Equal(["payload"], errors.Keys);
    }

    [Fact]
    public void AnUnknownFieldIsAnError()
    {
        Assert.Throws<JsonException>(() => Parse("""{"workflow":"echo","max_attempt":3}"""));
    }

    private static SubmitJobRequest Parse(string json) => JsonSerializer.Deserialize<SubmitJobRequest>(json, FlotillaJson.Options)!;
}
