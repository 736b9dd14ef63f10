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
        var bytes = CommandCodec.EncodeJson(Batch());
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
        Assert.Equal(CommandCodec.EncodeJson(Batch()), CommandCodec.EncodeJson(decoded));
    }

    // Every field of every command the binary form lays out, with nulls and non-nulls, and
    // commands it carries as JSON (a cancel, a module's bytes).
    private static CommandBatch EveryKind() => new(Guid.CreateVersion7(), 1_733_000_000_123, [
        new SubmitJobs([
            new NewJob("a", "echo", Payload, "default", -3, 1_000, 3, null, "00-abc-def-01", null),
            new NewJob("b", "wait", "{}", "emails", 7, long.MaxValue, 1, "key-Zoë", null, 250, DelayMs: 5_000),
        ], SameBodyPerKey: true),
        new FinishJobs("node1", [
            new JobOutcome("a", 1, OutcomeKind.Completed, Payload, StartedAt: 999),
            new JobOutcome("b", 2, OutcomeKind.Parked, null, RunAt: 4_000),
            new JobOutcome("c", int.MaxValue, OutcomeKind.FailedPermanently, "diverged"),
        ]),
        new OfferCapacity("node2", 256, 30_000, 2_000),
        new OfferCapacity("node3", 12, 30_000, 2_000, Ready: 3),
        new RenewLeases("node3", [new JobAttempt("a", 1), new JobAttempt("b", 2)], 30_000),
        new AssignDue(),
        new CancelJob("z"),
        new RegisterWorkflow("echo", "ab12", [0, 97, 115, 109, 255], 1_500),
        new SubmitJobs([]),
    ])
    {
        Leader = "node-ü",
    };

    [Fact]
    public void TheBinaryFormDecodesToWhatWasEncoded()
    {
        var batch = EveryKind();

        var bytes = CommandCodec.Encode(batch);
        var decoded = CommandCodec.Decode(new ReadOnlySequence<byte>(bytes));

        Assert.Equal(BinaryCommandCodec.MarkerWithLeader, bytes[0]);
        Assert.Equal(batch.BatchId, decoded.BatchId);
        Assert.Equal(batch.Leader, decoded.Leader);
        Assert.Equal(batch.Now, decoded.Now);
        // Records holding lists compare lists by reference: compare their JSON, which names every field.
        Assert.Equal(Encoding.UTF8.GetString(CommandCodec.EncodeJson(batch)), Encoding.UTF8.GetString(CommandCodec.EncodeJson(decoded)));
    }

    [Fact]
    public void AnEntrySplitAcrossSegmentsDecodesAlike()
    {
        var bytes = CommandCodec.Encode(EveryKind());
        var first = new Segment(bytes.AsMemory(0, 7));
        var last = first.Append(bytes.AsMemory(7));

        var decoded = CommandCodec.Decode(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length));

        Assert.Equal(CommandCodec.EncodeJson(EveryKind() with { BatchId = decoded.BatchId }), CommandCodec.EncodeJson(decoded));
    }

    [Fact]
    public void AnEntryThatNamesNoLeaderKeepsTheEarlierLayout()
    {
        var withLeader = CommandCodec.Encode(Batch() with { Leader = "node2" });
        var without = CommandCodec.Encode(Batch());

        Assert.Equal(BinaryCommandCodec.Marker, without[0]);
        Assert.Null(CommandCodec.Decode(new ReadOnlySequence<byte>(without)).Leader);
        Assert.Equal("node2", CommandCodec.Decode(new ReadOnlySequence<byte>(withLeader)).Leader);

        // The same bytes but for the marker and the name after the time (marker 1, id 16, time 8).
        Assert.Equal(without.AsSpan(1, 24).ToArray(), withLeader.AsSpan(1, 24).ToArray());
        Assert.Equal(without.AsSpan(25).ToArray(), withLeader.AsSpan(25 + 1 + "node2".Length).ToArray());
    }

    [Fact]
    public void AJsonEntryAndItsBinaryFormApplyTheSameCommands()
    {
        var batch = EveryKind();

        var fromJson = CommandCodec.Decode(new ReadOnlySequence<byte>(CommandCodec.EncodeJson(batch)));
        var fromBinary = CommandCodec.Decode(new ReadOnlySequence<byte>(CommandCodec.Encode(batch)));

        Assert.Equal(CommandCodec.EncodeJson(fromJson), CommandCodec.EncodeJson(fromBinary));
    }

    [Fact]
    public void ACommandWithANullTheLayoutCannotHoldTravelsAsJsonAndSparesTheRestOfTheEntry()
    {
        // What a node's /cluster/propose may deliver from hostile JSON: nulls the records do not declare.
        var batch = new CommandBatch(Guid.CreateVersion7(), 1_000, [
            new SubmitJobs([new NewJob("a", "echo", "{}", "default", 0, 1_000, 3, null, null, null)]),
            new FinishJobs("node1", [new JobOutcome(null!, 1, OutcomeKind.Completed, "{}")]),
            new OfferCapacity(null!, 3, 1_000, 1_000),
            new FinishJobs("node1", [new JobOutcome("a", 1, (OutcomeKind)99, "{}")]),
        ]);

        var decoded = CommandCodec.Decode(new ReadOnlySequence<byte>(CommandCodec.Encode(batch)));

        Assert.Equal("a", Assert.IsType<SubmitJobs>(decoded.Commands[0]).Jobs[0].JobId);
        Assert.Null(Assert.IsType<FinishJobs>(decoded.Commands[1]).Outcomes[0].JobId);
        Assert.Null(Assert.IsType<OfferCapacity>(decoded.Commands[2]).Node);
        Assert.Equal((OutcomeKind)99, Assert.IsType<FinishJobs>(decoded.Commands[3]).Outcomes[0].Kind);
    }

    [Fact]
    public void EveryTruncationOfABinaryEntryIsRejectedAsMalformed()
    {
        var bytes = CommandCodec.Encode(EveryKind());

        for (var length = 1; length < bytes.Length; length++)
        {
            var cut = new ReadOnlySequence<byte>(bytes.AsMemory(0, length));
            Assert.Throws<InvalidDataException>(() => CommandCodec.Decode(cut));
        }
    }

    [Theory]
    [InlineData(26, 9)] // the first command's tag: no such command
    [InlineData(29, 0xFF)] // the first job's id length: runs past the entry
    public void ABinaryEntryWithAWrongByteIsRejectedAsMalformed(int offset, byte value)
    {
        var bytes = CommandCodec.Encode(Batch());
        Assert.Equal(1, bytes[26]); // the layout the offsets assume: marker, id, time, count, tag (then the flag, the job count, the id length)
        bytes[offset] = value;

        Assert.Throws<InvalidDataException>(() => CommandCodec.Decode(new ReadOnlySequence<byte>(bytes)));
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
