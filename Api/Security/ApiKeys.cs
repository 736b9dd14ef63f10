using System.Security.Cryptography;
using System.Text;

namespace Flotilla.Api.Security;

/// <summary>One configured key and the scopes it grants.</summary>
internal sealed record ApiKey(string Name, IReadOnlySet<string> Scopes);

/// <summary>
/// The keys of <c>Api:Keys</c>: comma-separated, each <c>key</c> (every scope) or
/// <c>key:scope+scope</c>. None configured means an open Api. Keys are compared in constant time
/// (both sides hashed first, every configured key tried), so timing tells nothing about them.
/// </summary>
internal sealed class ApiKeys
{
    public const string Header = "X-Api-Key";
    public const string Setting = "Api:Keys";

    private readonly (byte[] Hash, ApiKey Key)[] _keys;

    public ApiKeys(IConfiguration configuration)
        : this(configuration[Setting])
    {
    }

    public ApiKeys(string? list)
    {
        var keys = new List<(byte[], ApiKey)>();
        var entries = (list ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (var i = 0; i < entries.Length; i++)
        {
            var parts = entries[i].Split(':', 2);
            var secret = parts[0];
            if (secret.Length == 0)
            {
                throw new InvalidOperationException($"{Setting}: entry {i + 1} has an empty key.");
            }

            var scopes = parts.Length == 1
                ? ApiScopes.All.ToHashSet()
                : parts[1].Split('+', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
            if (scopes.Count == 0 || scopes.Any(s => !ApiScopes.All.Contains(s)))
            {
                throw new InvalidOperationException(
                    $"{Setting}: entry {i + 1} has an unknown or empty scope list; scopes are {string.Join(", ", ApiScopes.All)} joined with '+'.");
            }

            // A key is named by its position, never by its text: names end up in logs.
            keys.Add((Hash(secret), new ApiKey($"key{i + 1}", scopes)));
        }

        _keys = [.. keys];
    }

    /// <summary>No key configured: the Api is open and every caller has every scope.</summary>
    public bool IsOpen => _keys.Length == 0;

    /// <summary>The key <paramref name="presented"/> is, or null.</summary>
    public ApiKey? Find(string presented)
    {
        var hash = Hash(presented);
        ApiKey? found = null;
        foreach (var (candidate, key) in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, candidate))
            {
                found = key;
            }
        }

        return found;
    }

    private static byte[] Hash(string value) => SHA256.HashData(Encoding.UTF8.GetBytes(value));
}
