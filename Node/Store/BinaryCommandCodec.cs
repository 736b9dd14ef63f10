using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Flotilla.Node.Store;

/// <summary>
/// The binary form of a log entry, for the commands that ride in nearly every entry (submits,
/// outcomes, capacity offers, lease renewals, assignment ticks). Every node decodes every entry,
/// and reflection-driven JSON was 8-9 % of each node's CPU under load; this form is read by a
/// cursor over the bytes. Any other command is carried inside it as its JSON (tag
/// <see cref="Tag.Json"/>), so a rare or new command needs no binary layout of its own.
/// </summary>
/// <remarks>
/// Layout: the marker byte, the batch id (16 bytes), the leader's time (8), the leader's node id
/// (with <see cref="MarkerWithLeader"/> only: earlier entries did not carry one), the command
/// count, then per command a tag and its fields. Integers are little-endian of fixed width;
/// counts and string lengths are unsigned LEB128; a string is its UTF-8 length plus one (0:
/// null), then its bytes; an optional number is a presence byte, then the number.
/// The marker is not a byte JSON can start with, so <see cref="CommandCodec.Decode"/> tells
/// the forms apart and entries written as JSON before still apply.
/// </remarks>
internal static class BinaryCommandCodec
{
    /// <summary>The first byte of a binary entry (JSON starts with '{' or white space).</summary>
    public const byte Marker = 0xB1;

    /// <summary>The first byte of a binary entry that names its leader after the time.</summary>
    public const byte MarkerWithLeader = 0xB2;

    /// <summary>Whether an entry starting with this byte is in the binary form.</summary>
    public static bool IsMarker(byte first) => first is Marker or MarkerWithLeader;

    private enum Tag : byte
    {
        Json = 0,
        SubmitJobs = 1,
        FinishJobs = 2,
        OfferCapacity = 3,
        RenewLeases = 4,
        AssignDue = 5,
        OfferCapacityReady = 6, // an offer with the node's ready count (its slots)
    }

    public static void Encode(CommandBatch batch, IBufferWriter<byte> output)
    {
        var writer = new Writer(output);
        writer.Byte(batch.Leader is null ? Marker : MarkerWithLeader);
        writer.Guid(batch.BatchId);
        writer.Long(batch.Now);
        if (batch.Leader is not null)
        {
            writer.String(batch.Leader);
        }

        writer.Count(batch.Commands.Count);
        foreach (var command in batch.Commands)
        {
            switch (Fits(command) ? command : null)
            {
                case SubmitJobs submit:
                    writer.Byte((byte)Tag.SubmitJobs);
                    writer.Byte(submit.SameBodyPerKey ? (byte)1 : (byte)0);
                    writer.Count(submit.Jobs.Count);
                    foreach (var job in submit.Jobs)
                    {
                        writer.String(job.JobId);
                        writer.String(job.Workflow);
                        writer.String(job.Payload);
                        writer.String(job.Queue);
                        writer.Int(job.Priority);
                        writer.Long(job.RunAt);
                        writer.Int(job.MaxAttempts);
                        writer.String(job.IdempotencyKey);
                        writer.String(job.TraceParent);
                        writer.OptionalInt(job.TimeoutMs);
                        writer.OptionalLong(job.DelayMs);
                    }

                    break;
                case FinishJobs finish:
                    writer.Byte((byte)Tag.FinishJobs);
                    writer.String(finish.Node);
                    writer.Count(finish.Outcomes.Count);
                    foreach (var outcome in finish.Outcomes)
                    {
                        writer.String(outcome.JobId);
                        writer.Int(outcome.Attempt);
                        writer.Byte((byte)outcome.Kind);
                        writer.String(outcome.Text);
                        writer.OptionalLong(outcome.StartedAt);
                        writer.OptionalLong(outcome.RunAt);
                    }

                    break;
                case OfferCapacity offer:
                    writer.Byte((byte)(offer.Ready is null ? Tag.OfferCapacity : Tag.OfferCapacityReady));
                    writer.String(offer.Node);
                    writer.Int(offer.Capacity);
                    writer.Long(offer.LeaseMs);
                    writer.Long(offer.AliveMs);
                    if (offer.Ready is { } ready)
                    {
                        writer.Int(ready);
                    }

                    break;
                case RenewLeases renew:
                    writer.Byte((byte)Tag.RenewLeases);
                    writer.String(renew.Node);
                    writer.Count(renew.Jobs.Count);
                    foreach (var job in renew.Jobs)
                    {
                        writer.String(job.JobId);
                        writer.Int(job.Attempt);
                    }

                    writer.Long(renew.LeaseMs);
                    break;
                case AssignDue:
                    writer.Byte((byte)Tag.AssignDue);
                    break;
                default: // also a command with a null where the layout needs a value: as JSON, it reaches apply and is refused there alone
                    writer.Byte((byte)Tag.Json);
                    writer.Bytes(JsonSerializer.SerializeToUtf8Bytes(command, CommandCodec.Options));
                    break;
            }
        }
    }

    // Whether the command's values fit the layout. A command that reached the leader from a
    // node's /cluster/propose may hold nulls the records do not declare; written as JSON it
    // decodes as it was and apply refuses it alone, where a null in the layout would make the
    // whole entry, other proposers' commands included, undecodable.
    private static bool Fits(Command command) => command switch
    {
        SubmitJobs { Jobs: { } jobs } => jobs.All(j => j is { JobId: not null, Workflow: not null, Payload: not null, Queue: not null }),
        FinishJobs { Node: not null, Outcomes: { } outcomes } => outcomes.All(o => o is { JobId: not null } && Enum.IsDefined(o.Kind)),
        OfferCapacity { Node: not null } => true,
        RenewLeases { Node: not null, Jobs: { } jobs } => jobs.All(j => j is { JobId: not null }),
        AssignDue => true,
        _ => false,
    };

    /// <summary>Reads a binary entry; anything malformed is an <see cref="InvalidDataException"/>.</summary>
    public static CommandBatch Decode(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return Read(bytes);
        }
        catch (Exception ex) when (ex is IndexOutOfRangeException or ArgumentException or JsonException or DecoderFallbackException)
        {
            throw new InvalidDataException($"A binary log entry is malformed: {ex.Message}", ex);
        }
    }

    private static CommandBatch Read(ReadOnlySpan<byte> bytes)
    {
        var reader = new Reader(bytes);
        var marker = reader.Byte();
        if (!IsMarker(marker))
        {
            throw new InvalidDataException("A binary log entry must start with its marker byte.");
        }

        var batchId = reader.Guid();
        var now = reader.Long();
        var leader = marker == MarkerWithLeader ? reader.RequiredString() : null;
        var commands = new Command[reader.Count()];
        for (var i = 0; i < commands.Length; i++)
        {
            commands[i] = (Tag)reader.Byte() switch
            {
                Tag.SubmitJobs => ReadSubmit(ref reader),
                Tag.FinishJobs => ReadFinish(ref reader),
                Tag.OfferCapacity => new OfferCapacity(reader.RequiredString(), reader.Int(), reader.Long(), reader.Long()),
                Tag.OfferCapacityReady => new OfferCapacity(reader.RequiredString(), reader.Int(), reader.Long(), reader.Long(), reader.Int()),
                Tag.RenewLeases => ReadRenew(ref reader),
                Tag.AssignDue => new AssignDue(),
                Tag.Json => JsonSerializer.Deserialize<Command>(reader.Bytes(), CommandCodec.Options)
                    ?? throw new InvalidDataException("A binary log entry held a null command."),
                var tag => throw new InvalidDataException($"A binary log entry held an unknown command tag {(byte)tag}."),
            };
        }

        if (!reader.AtEnd)
        {
            throw new InvalidDataException("A binary log entry has bytes after its last command.");
        }

        return new CommandBatch(batchId, now, commands) { Leader = leader };
    }

    private static SubmitJobs ReadSubmit(ref Reader reader)
    {
        var sameBodyPerKey = reader.Byte() != 0;
        var jobs = new NewJob[reader.Count()];
        for (var i = 0; i < jobs.Length; i++)
        {
            jobs[i] = new NewJob(
                JobId: reader.RequiredString(),
                Workflow: reader.RequiredString(),
                Payload: reader.RequiredString(),
                Queue: reader.RequiredString(),
                Priority: reader.Int(),
                RunAt: reader.Long(),
                MaxAttempts: reader.Int(),
                IdempotencyKey: reader.String(),
                TraceParent: reader.String(),
                TimeoutMs: reader.OptionalInt(),
                DelayMs: reader.OptionalLong());
        }

        return new SubmitJobs(jobs, sameBodyPerKey);
    }

    private static FinishJobs ReadFinish(ref Reader reader)
    {
        var node = reader.RequiredString();
        var outcomes = new JobOutcome[reader.Count()];
        for (var i = 0; i < outcomes.Length; i++)
        {
            var jobId = reader.RequiredString();
            var attempt = reader.Int();
            var kind = reader.Byte();
            if (!Enum.IsDefined((OutcomeKind)kind))
            {
                throw new InvalidDataException($"A binary log entry held an unknown outcome kind {kind}.");
            }

            outcomes[i] = new JobOutcome(jobId, attempt, (OutcomeKind)kind, reader.String(), reader.OptionalLong(), reader.OptionalLong());
        }

        return new FinishJobs(node, outcomes);
    }

    private static RenewLeases ReadRenew(ref Reader reader)
    {
        var node = reader.RequiredString();
        var jobs = new JobAttempt[reader.Count()];
        for (var i = 0; i < jobs.Length; i++)
        {
            jobs[i] = new JobAttempt(reader.RequiredString(), reader.Int());
        }

        return new RenewLeases(node, jobs, reader.Long());
    }

    private readonly ref struct Writer(IBufferWriter<byte> output)
    {
        private readonly IBufferWriter<byte> _output = output;

        public void Byte(byte value)
        {
            _output.GetSpan(1)[0] = value;
            _output.Advance(1);
        }

        public void Int(int value)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_output.GetSpan(4), value);
            _output.Advance(4);
        }

        public void Long(long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_output.GetSpan(8), value);
            _output.Advance(8);
        }

        public void Guid(Guid value)
        {
            value.TryWriteBytes(_output.GetSpan(16));
            _output.Advance(16);
        }

        public void Count(int value) => Unsigned((uint)value);

        public void OptionalInt(int? value)
        {
            Byte(value.HasValue ? (byte)1 : (byte)0);
            if (value is { } v)
            {
                Int(v);
            }
        }

        public void OptionalLong(long? value)
        {
            Byte(value.HasValue ? (byte)1 : (byte)0);
            if (value is { } v)
            {
                Long(v);
            }
        }

        public void String(string? value)
        {
            if (value is null)
            {
                Unsigned(0);
                return;
            }

            var length = Encoding.UTF8.GetByteCount(value);
            Unsigned((uint)length + 1);
            var written = Encoding.UTF8.GetBytes(value, _output.GetSpan(length));
            _output.Advance(written);
        }

        public void Bytes(ReadOnlySpan<byte> value)
        {
            Unsigned((uint)value.Length);
            value.CopyTo(_output.GetSpan(value.Length));
            _output.Advance(value.Length);
        }

        private void Unsigned(uint value)
        {
            var span = _output.GetSpan(5);
            var n = 0;
            while (value >= 0x80)
            {
                span[n++] = (byte)(value | 0x80);
                value >>= 7;
            }

            span[n++] = (byte)value;
            _output.Advance(n);
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        private ReadOnlySpan<byte> _rest = bytes;

        public readonly bool AtEnd => _rest.IsEmpty;

        public byte Byte()
        {
            var value = _rest[0];
            _rest = _rest[1..];
            return value;
        }

        public int Int()
        {
            var value = BinaryPrimitives.ReadInt32LittleEndian(_rest);
            _rest = _rest[4..];
            return value;
        }

        public long Long()
        {
            var value = BinaryPrimitives.ReadInt64LittleEndian(_rest);
            _rest = _rest[8..];
            return value;
        }

        public Guid Guid()
        {
            var value = new Guid(_rest[..16]);
            _rest = _rest[16..];
            return value;
        }

        // A count no larger than the bytes left: each item takes at least one byte, so a
        // corrupt count cannot make the reader allocate more than the entry could hold.
        public int Count()
        {
            var value = Unsigned();
            return value <= (uint)_rest.Length
                ? (int)value
                : throw new InvalidDataException($"A binary log entry announced {value} items with {_rest.Length} bytes left.");
        }

        public int? OptionalInt() => Byte() == 0 ? null : Int();

        public long? OptionalLong() => Byte() == 0 ? null : Long();

        public string? String()
        {
            var length = Unsigned();
            if (length == 0)
            {
                return null;
            }

            var bytes = _rest[..checked((int)(length - 1))];
            _rest = _rest[bytes.Length..];
            return Strict.GetString(bytes);
        }

        public string RequiredString() =>
            String() ?? throw new InvalidDataException("A binary log entry held a null where a value is required.");

        public ReadOnlySpan<byte> Bytes()
        {
            var bytes = _rest[..checked((int)Unsigned())];
            _rest = _rest[bytes.Length..];
            return bytes;
        }

        private uint Unsigned()
        {
            uint value = 0;
            for (var shift = 0; shift < 35; shift += 7)
            {
                var b = Byte();
                value |= (uint)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new InvalidDataException("A binary log entry held a number longer than five bytes.");
        }
    }

    // Invalid UTF-8 is an error, not a replacement character: the leader only writes valid text.
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
