using System.Collections.Concurrent;
using System.Security.Cryptography;
using Wasmtime;

namespace Flotilla.Node.Workflows;

/// <summary>
/// Compiled modules by SHA-256: in memory for the life of the process, and on disk as
/// <c>&lt;sha256&gt;-&lt;engineKey&gt;.cwasm</c> so a restarted node skips Cranelift (compiling
/// costs 15–100 ms, loading a serialized module a fraction of that). The set is bounded by the
/// registered workflows, so nothing is evicted.
/// </summary>
internal sealed partial class ModuleCache(Engine engine, string engineKey, string? directory, ILogger logger) : IDisposable
{
    // Each file starts with the SHA-256 of the serialized bytes after it: Wasmtime trusts what
    // it deserializes (it is native code), so a torn or flipped file must be caught before that.
    private const int ChecksumBytes = 32;

    private readonly ConcurrentDictionary<string, Lazy<Module?>> _modules = new(StringComparer.Ordinal);

    public string EngineKey => engineKey;

    /// <summary>Where the compiled form of <paramref name="sha256"/> lives, or null without a disk cache.</summary>
    public string? CachePath(string sha256) =>
        directory is null ? null : Path.Combine(directory, $"{sha256}-{engineKey}.cwasm");

    /// <summary>
    /// The compiled module, or null when it is not in either cache and
    /// <paramref name="loadModule"/> has no bytes for it. Two concurrent callers compile once.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes do not hash to the SHA-256 or do not compile.</exception>
    public Module? GetOrLoad(string sha256, Func<byte[]?> loadModule)
    {
        if (!IsSha256(sha256))
        {
            // Also keeps a hostile name out of the cache path.
            throw new InvalidDataException($"'{sha256}' is not a lowercase hex SHA-256");
        }

        var lazy = _modules.GetOrAdd(sha256, key => new Lazy<Module?>(() => Load(key, loadModule), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            var module = lazy.Value;
            if (module is null)
            {
                // Not available yet; a later run (after replication catches up) may find it.
                _modules.TryRemove(new KeyValuePair<string, Lazy<Module?>>(sha256, lazy));
            }

            return module;
        }
        catch
        {
            _modules.TryRemove(new KeyValuePair<string, Lazy<Module?>>(sha256, lazy));
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var lazy in _modules.Values)
        {
            if (lazy.IsValueCreated)
            {
                lazy.Value?.Dispose();
            }
        }

        _modules.Clear();
    }

    private Module? Load(string sha256, Func<byte[]?> loadModule)
    {
        var path = CachePath(sha256);
        if (path is not null && TryReadCached(path, sha256) is { } cached)
        {
            return cached;
        }

        var bytes = loadModule();
        if (bytes is null)
        {
            return null;
        }

        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (actual != sha256)
        {
            throw new InvalidDataException($"module bytes hash to {actual[..12]}…, not {sha256[..12]}…");
        }

        Module module;
        try
        {
            module = Module.FromBytes(engine, sha256, bytes);
        }
        catch (WasmtimeException e)
        {
            throw new InvalidDataException($"module does not compile: {CompileError(e.Message)}", e);
        }

        if (path is not null)
        {
            TryWriteCached(path, module);
        }

        return module;
    }

    private Module? TryReadCached(string path, string sha256)
    {
        byte[] file;
        try
        {
            file = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // Not compiled yet: on a fresh node the folder itself is created by the first write.
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogCacheUnreadable(logger, path, e.Message);
            return null;
        }

        if (file.Length > ChecksumBytes && SHA256.HashData(file.AsSpan(ChecksumBytes)).AsSpan().SequenceEqual(file.AsSpan(0, ChecksumBytes)))
        {
            try
            {
                return Module.Deserialize(engine, sha256, file.AsSpan(ChecksumBytes));
            }
            catch (WasmtimeException e)
            {
                LogCacheCorrupt(logger, path, FirstLine(e.Message));
            }
        }
        else
        {
            LogCacheCorrupt(logger, path, "checksum mismatch");
        }

        TryDelete(path);
        return null;
    }

    private void TryWriteCached(string path, Module module)
    {
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var serialized = module.Serialize();
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(SHA256.HashData(serialized));
                stream.Write(serialized);
            }

            // Rename so a reader never sees half a file (the checksum would catch it anyway).
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or WasmtimeException)
        {
            LogCacheUnwritable(logger, path, e.Message);
            TryDelete(temp);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A file we cannot delete is read (and rejected) again next time; nothing worse.
        }
    }

    internal static bool IsSha256(string value) =>
        value.Length == 64 && value.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    internal static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return (end < 0 ? message : message[..end]).Trim();
    }

    /// <summary>
    /// The first line of a compile error and its innermost cause: Wasmtime's first line alone
    /// often says only "is not valid", and the cause (e.g. "defined memories count of 2 exceeds
    /// the per-instance limit of 1") is on the last line after "Caused by:".
    /// </summary>
    internal static string CompileError(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var caused = Array.IndexOf(lines, "Caused by:");
        if (caused < 0 || caused == lines.Length - 1)
        {
            return FirstLine(message);
        }

        // Numbered causes ("1: …") run outermost to innermost.
        var cause = lines[^1];
        var colon = cause.IndexOf(": ", StringComparison.Ordinal);
        if (colon > 0 && cause[..colon].All(char.IsAsciiDigit))
        {
            cause = cause[(colon + 2)..];
        }

        return $"{FirstLine(message)}: {cause}";
    }

    [LoggerMessage(EventId = 1601, Level = LogLevel.Warning, Message = "Compiled-module cache file {Path} is corrupt ({Reason}); deleted, recompiling")]
    private static partial void LogCacheCorrupt(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 1602, Level = LogLevel.Warning, Message = "Compiled-module cache file {Path} could not be read: {Reason}")]
    private static partial void LogCacheUnreadable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 1603, Level = LogLevel.Warning, Message = "Compiled-module cache file {Path} could not be written: {Reason}")]
    private static partial void LogCacheUnwritable(ILogger logger, string path, string reason);
}
