using System.IO.MemoryMappedFiles;
using Flotilla.Node.Cluster;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Flotilla.Node.Tests.Cluster;

public sealed class MappedLogTrimmerTests : IDisposable
{
    private const int ChunkBytes = 2 * 1024 * 1024;
    private readonly string _dataDir = Directory.CreateTempSubdirectory("flotilla-trim-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public void OnlyTheLogsNumberedChunkFilesStillOnDiskAreFound()
    {
        var log = "/data/node1/log/";
        var lines = new[]
        {
            "7f0000000000-7f0001000000 rw-s 00000000 fd:00 11 /data/node1/log/data/4",
            "7f0001000000-7f0001100000 rw-s 00000000 fd:00 12 /data/node1/log/metadata/4",
            "7f0002000000-7f0003000000 rw-s 00000000 fd:00 13 /data/node1/log/data/3 (deleted)",
            "7f0004000000-7f0005000000 rw-s 00000000 fd:00 14 /data/node1/flotilla.db-shm",
            "7f0006000000-7f0007000000 rw-s 00000000 fd:00 15 /data/node1/log/checkpoint",
            "7f0008000000-7f0009000000 rw-p 00000000 00:00 0 ",
        };

        var chunks = MappedLogTrimmer.MappedChunks(lines, log);

        Assert.Equal(
            [
                new MappedLogTrimmer.MappedChunk("/data/node1/log/data", 4, unchecked((nint)0x7f0000000000), 0x1000000),
                new MappedLogTrimmer.MappedChunk("/data/node1/log/metadata", 4, unchecked((nint)0x7f0001000000), 0x100000),
            ],
            chunks);
    }

    [Fact]
    public async Task ChunksBehindTheNewestLeaveTheResidentSetAndKeepTheirBytes()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dataDir, "log", "data")).FullName;
        var maps = new List<(MemoryMappedFile File, MemoryMappedViewAccessor View)>();
        try
        {
            for (var number = 1; number <= 3; number++)
            {
                var file = MemoryMappedFile.CreateFromFile(Path.Combine(folder, number.ToString(System.Globalization.CultureInfo.InvariantCulture)), FileMode.CreateNew, null, ChunkBytes);
                var view = file.CreateViewAccessor(0, ChunkBytes);
                for (var offset = 0; offset < ChunkBytes; offset += 4096)
                {
                    view.Write(offset, (byte)(number + (offset / 4096)));
                }

                view.Flush(); // on disk, as the log's chunks are before anything is acknowledged
                maps.Add((file, view));
            }

            var residentBefore = maps.Select(m => ResidentBytes(m.View)).ToArray();
            Assert.All(residentBefore, bytes => Assert.True(bytes >= ChunkBytes / 2, $"a written chunk should be resident: {bytes}"));

            var trimmer = new MappedLogTrimmer(Options.Create(new ClusterOptions { DataDir = _dataDir }), TimeProvider.System, NullLogger<MappedLogTrimmer>.Instance);
            await trimmer.RunOnceAsync(CancellationToken.None);

            var residentAfter = maps.Select(m => ResidentBytes(m.View)).ToArray();
            Assert.True(residentAfter[0] < ChunkBytes / 8 && residentAfter[1] < ChunkBytes / 8, $"chunks 1 and 2 should have left the resident set: {string.Join(", ", residentAfter)}");
            Assert.Equal(residentBefore[2], residentAfter[2]);

            // Nothing was lost: every page reads back (faulted in again from the file).
            for (var i = 0; i < maps.Count; i++)
            {
                for (var offset = 0; offset < ChunkBytes; offset += 4096)
                {
                    Assert.Equal((byte)(i + 1 + (offset / 4096)), maps[i].View.ReadByte(offset));
                }
            }
        }
        finally
        {
            foreach (var (file, view) in maps)
            {
                view.Dispose();
                file.Dispose();
            }
        }
    }

    // The Rss line of the mapping that holds the view, from /proc/self/smaps (Linux, as CI).
    private static long ResidentBytes(MemoryMappedViewAccessor view)
    {
        var address = (ulong)view.SafeMemoryMappedViewHandle.DangerousGetHandle();
        var inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            if (MappedLogTrimmer.TryParseRange(line, out var start, out var end))
            {
                inside = start <= address && address < end;
            }
            else if (inside && line.StartsWith("Rss:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(4).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("The view's mapping is not in /proc/self/smaps.");
    }
}
