using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Flotilla.Node.Store;

/// <summary>
/// How long a failed attempt waits before the job may be claimed again: exponential
/// (1 s · 2^(attempt-1), capped at 1 h) plus up to 25 % jitter so jobs that failed together do
/// not all come back in the same millisecond.
/// </summary>
/// <remarks>
/// It runs inside apply, so it must give the same answer on every node and in every process:
/// the jitter comes from SHA-256 of (job id, attempt), never from <see cref="Random"/> or
/// <see cref="string.GetHashCode()"/> (randomized per process), and the arithmetic is integer
/// only so no floating-point rounding can differ between machines.
/// </remarks>
internal static class RetryPolicy
{
    public const long BaseDelayMs = 1_000;
    public const long MaxDelayMs = 3_600_000;

    /// <summary>The delay after <paramref name="attempt"/> (1-based) of <paramref name="jobId"/> failed.</summary>
    public static long BackoffMs(string jobId, int attempt)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        var exponent = Math.Max(attempt, 1) - 1;

        // 1 s << 22 already exceeds the cap; checking first keeps the shift from overflowing.
        var delay = exponent >= 22 ? MaxDelayMs : Math.Min(MaxDelayMs, BaseDelayMs << exponent);
        return delay + Jitter(delay, jobId, attempt);
    }

    // delay · h / 2^66 with h a uniform 64-bit hash: a value in [0, delay / 4).
    private static long Jitter(long delay, string jobId, int attempt)
    {
        // The attempt is a fixed-size suffix, so (id, attempt) pairs cannot collide as bytes.
        var idLength = Encoding.UTF8.GetByteCount(jobId);
        var input = new byte[idLength + sizeof(int)];
        Encoding.UTF8.GetBytes(jobId, input);
        BinaryPrimitives.WriteInt32BigEndian(input.AsSpan(idLength), attempt);

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input, hash);
        var h = BinaryPrimitives.ReadUInt64BigEndian(hash);

        return (long)(((UInt128)(ulong)delay * h) >> 66);
    }
}
