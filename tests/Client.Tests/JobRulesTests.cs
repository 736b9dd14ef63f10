namespace Flotilla.Client.Tests;

public sealed class JobRulesTests
{
    [Theory]
    [InlineData("test-job.com")]
    [InlineData("https://example.org/a?b=c")]
    [InlineData("ftp://x")]
    [InlineData("localhost:8080")]
    public void ANewJobUrlIsAnyNonEmptyUrlOrHost(string url) => Assert.Null(JobRules.CheckJobUrl(url));

    [Theory]
    [InlineData(null, "required")]
    [InlineData("", "required")]
    [InlineData(" \t", "required")]
    [InlineData("a\nb", "control")]
    [InlineData("a\u0000", "control")]
    [InlineData("a\u007f", "control")]
    public void ANewJobUrlMustNotBeEmptyOrCarryControlCharacters(string? url, string reason) =>
        Assert.Contains(reason, JobRules.CheckJobUrl(url));

    [Fact]
    public void ANewJobUrlIsAtMostTwoKibibytesOfUtf8()
    {
        Assert.Null(JobRules.CheckJobUrl(new string('a', 2048)));
        Assert.Contains("2048", JobRules.CheckJobUrl(new string('a', 2049)));
        Assert.NotNull(JobRules.CheckJobUrl(new string('é', 1025)));
    }

    [Theory]
    [InlineData("pending", JobStatus.Pending)]
    [InlineData("Cancelled", JobStatus.Cancelled)]
    public void StatusFiltersParse(string text, JobStatus expected)
    {
        Assert.True(JobRules.TryParseStatus(text, out var status));
        Assert.Equal(expected, status);
    }

    [Theory]
    [InlineData("done")]
    [InlineData("1")]
    [InlineData("pending,running")]
    public void OtherStatusFiltersDoNot(string text) => Assert.False(JobRules.TryParseStatus(text, out _));
}
