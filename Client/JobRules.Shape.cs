using System.Text.Json;

namespace Flotilla.Client;

public static partial class JobRules
{
    /// <summary>
    /// Deepest nesting of a payload. A deeper one is refused at submit: the response writer's
    /// limit is 64 levels and the job and page around a payload take three, so a deeper payload
    /// would make every read of its job, and of every page holding it, fail.
    /// </summary>
    public const int MaxPayloadDepth = 32;

    /// <summary>Why a payload nested too deep was refused.</summary>
    public static string PayloadDepthRule => $"payload may be nested at most {MaxPayloadDepth} levels deep.";

    /// <summary>The nesting depth of <paramref name="value"/>: 0 for a scalar, 1 for a flat array or object.</summary>
    /// <param name="value">Any JSON value.</param>
    public static int DepthOf(JsonElement value)
    {
        var deepest = 0;
        var pending = new Stack<(JsonElement Value, int Depth)>();
        pending.Push((value, 0));
        while (pending.Count > 0)
        {
            var (current, depth) = pending.Pop();
            if (current.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array))
            {
                continue;
            }

            deepest = Math.Max(deepest, depth + 1);
            if (current.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in current.EnumerateObject())
                {
                    pending.Push((property.Value, depth + 1));
                }
            }
            else
            {
                foreach (var item in current.EnumerateArray())
                {
                    pending.Push((item, depth + 1));
                }
            }
        }

        return deepest;
    }
}
