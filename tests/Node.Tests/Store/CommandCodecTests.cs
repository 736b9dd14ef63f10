using System.Buffers;
using System.Text;
using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

public sealed class CommandCodecTests
{
    private const string Payload = """{"url":"https://example.org/?a=1&b=<2>","name":"Zoë","quote":"say \"hi\"\n"}""";

    private static CommandBatch Batch() => new(Guid.Parse("01a23c53-33e4-796e-8ba6-952754e5ad10"), 1_000, [
        new SubmitJobs([new NewJob("a", "echo", Payload, "default", 0, 1_000, 3, null, "00-abc-def-01", null)]),
        new FinishJobs("node1", [new JobOutcome("a", 1, OutcomeKind.Completed, Payload, StartedAt: 999)]),
    ]);

    [Fact]
    public void APooledBufferGetsTheSameBytesAsAnArray()
    {
        var pooled = new ArrayBufferWriter<byte>();

        CommandCodec.Encode(Batch(), pooled);

        Assert.Equal(CommandCodec.Encode(Batch()), pooled.WrittenSpan.ToArray());
    }

    [Fact]
    public void JsonInsideStringsKeepsShortEscapesAndDecodesToTheSameText()
    {
        var bytes = CommandCodec.Encode(Batch());
        var text = Encoding.UTF8.GetString(bytes);

        Assert.DoesNotContain(@"\u0022", text, StringComparison.Ordinal);
        Assert.Contains(@"{\""url\"":", text, StringComparison.Ordinal);
        var decoded = CommandCodec.Decode(new ReadOnlySequence<byte>(bytes));
        Assert.Equal(Payload, Assert.IsType<SubmitJobs>(decoded.Commands[0]).Jobs[0].Payload);
        Assert.Equal(Payload, Assert.IsType<FinishJobs>(decoded.Commands[1]).Outcomes[0].Text);
    }

    [Fact]
    public void EntriesWrittenWithTheOldEscapingDecodeAlike()
    {
        // How log entries were written before: every quote, '<', '>', '&' and non-ASCII escaped.
        var old = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(Batch(), new System.Text.Json.JsonSerializerOptions(CommandCodec.Options)
        {
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Default,
        });
        Assert.Contains(@"\u0022", Encoding.UTF8.GetString(old), StringComparison.Ordinal);

        var decoded = CommandCodec.Decode(new ReadOnlySequence<byte>(old));

        Assert.Equal(Payload, Assert.IsType<SubmitJobs>(decoded.Commands[0]).Jobs[0].Payload);
        Assert.Equal(Payload, Assert.IsType<FinishJobs>(decoded.Commands[1]).Outcomes[0].Text);
        Assert.Equal(CommandCodec.Encode(Batch()), CommandCodec.Encode(decoded));
    }
}
