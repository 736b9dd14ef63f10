using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Flotilla.Node.Workflows;

internal sealed partial class WasmRunner
{
    private enum StopReason
    {
        Timeout,
        Cancelled,
    }

    /// <summary>The per-run clock and token, consulted on every epoch tick from the guest's thread.</summary>
    private sealed class RunWatch(TimeSpan timeout, CancellationToken token)
    {
        private readonly long _started = Stopwatch.GetTimestamp();

        public StopReason? Stopped { get; private set; }

        public ulong OnEpochDeadline()
        {
            if (token.IsCancellationRequested)
            {
                Stopped = StopReason.Cancelled;
            }
            else if (Stopwatch.GetElapsedTime(_started) >= timeout)
            {
                Stopped = StopReason.Timeout;
            }
            else
            {
                return 1;
            }

            // Throwing ends the guest; Wasmtime hands this back wrapped, and Stopped says why.
            throw new OperationCanceledException("workflow run stopped");
        }

        // A plain epoch trap (no callback ran) still means the deadline passed.
        public void NoteInterrupt(bool interrupted)
        {
            if (interrupted && Stopped is null)
            {
                Stopped = token.IsCancellationRequested ? StopReason.Cancelled : StopReason.Timeout;
            }
        }
    }

    /// <summary>
    /// Stdout, kept only up to the cap. Past it the callback throws, which closes the stream, so
    /// a runaway writer gets write errors at once instead of filling memory until the timeout.
    /// </summary>
    private sealed class CappedOutput(int cap)
    {
        private readonly MemoryStream _bytes = new();

        public bool Overflowed { get; private set; }

        public void Write(ReadOnlySpan<byte> data)
        {
            if (Overflowed || _bytes.Length + data.Length > cap)
            {
                Overflowed = true;
                throw new IOException("output cap reached");
            }

            _bytes.Write(data);
        }

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
    }

    /// <summary>The last few KiB a guest wrote to stderr, for the failure reason.</summary>
    private sealed class OutputTail
    {
        private const int Keep = 4096;
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

    private static string Snippet(string text, int max) =>
        text.Length <= max ? text : text[..max] + "…";
}
