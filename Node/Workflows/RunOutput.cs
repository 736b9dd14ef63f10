using System.Text;
using System.Text.Json;

namespace Flotilla.Node.Workflows;

/// <summary>
/// Stdout, kept only up to the cap. A write that would pass it is refused whole and marks the
/// run overflowed, so a runaway writer gets write errors at once instead of filling memory
/// until the timeout.
/// </summary>
internal sealed class CappedOutput(int cap)
{
    private readonly MemoryStream _bytes = new();

    public bool Overflowed { get; private set; }

    /// <summary>How much more may be written before the cap.</summary>
    public long Room => Overflowed ? 0 : cap - _bytes.Length;

    /// <summary>False (and overflowed from then on) when <paramref name="length"/> more bytes would pass the cap.</summary>
    public bool TryReserve(long length)
    {
        if (Overflowed || length > Room)
        {
            Overflowed = true;
            return false;
        }

        return true;
    }

    public void Write(ReadOnlySpan<byte> data) => _bytes.Write(data);

    public bool ToJson(out string result, out string error)
    {
        var bytes = _bytes.GetBuffer().AsSpan(0, (int)_bytes.Length);
        try
        {
            using var document = JsonDocument.Parse(_bytes.GetBuffer().AsMemory(0, (int)_bytes.Length));
            result = Encoding.UTF8.GetString(bytes).Trim();
            error = string.Empty;
            return true;
        }
        catch (JsonException)
        {
            var text = Encoding.UTF8.GetString(bytes).Trim();
            result = string.Empty;
            error = text.Length == 0 ? "output is not JSON: (empty)" : $"output is not JSON: {Snippet(text, 80)}";
            return false;
        }
    }

    private static string Snippet(string text, int max) =>
        text.Length <= max ? text : text[..max] + "…";
}

/// <summary>The last few KiB a guest wrote to stderr, for the failure reason.</summary>
internal sealed class OutputTail
{
    /// <summary>How many of the last bytes written are kept.</summary>
    public const int Keep = 4096;
    private const int Show = 200;
    private readonly byte[] _ring = new byte[Keep];
    private long _written;

    public void Write(ReadOnlySpan<byte> data)
    {
        if (data.Length > Keep)
        {
            data = data[^Keep..];
        }

        foreach (var b in data)
        {
            _ring[_written++ % Keep] = b;
        }
    }

    public string Tail()
    {
        var length = (int)Math.Min(_written, Keep);
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = _ring[(_written - length + i) % Keep];
        }

        var text = Encoding.UTF8.GetString(bytes).Trim();
        text = string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return text.Length <= Show ? text : "…" + text[^Show..];
    }
}
