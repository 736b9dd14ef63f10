using Flotilla.Node.Workflows.Durable;
using Wasmtime;

namespace Flotilla.Node.Tests.Workflows;

/// <summary>
/// What the SDKs' samples import: exactly the guest ABI's signatures, and <c>flotilla.call</c>
/// only in a build that sends HTTP requests (so a guest without HTTP runs on any host).
/// </summary>
public sealed class SdkSampleTests
{
    private static readonly Dictionary<string, (ValueKind[] Parameters, ValueKind[] Results)> _abi = new()
    {
        ["now_ms"] = ([], [ValueKind.Int64]),
        ["random_bytes"] = ([ValueKind.Int32, ValueKind.Int32], [ValueKind.Int32]),
        ["sleep_ms"] = ([ValueKind.Int64], [ValueKind.Int32]),
        ["call"] = ([ValueKind.Int32, ValueKind.Int32, ValueKind.Int32, ValueKind.Int32, ValueKind.Int32], [ValueKind.Int64]),
        ["response_read"] = ([ValueKind.Int32, ValueKind.Int32], [ValueKind.Int32]),
        ["log"] = ([ValueKind.Int32, ValueKind.Int32, ValueKind.Int32], []),
    };

    [Theory]
    [MemberData(nameof(SdkSamples.Languages), MemberType = typeof(SdkSamples))]
    public void ASampleWithoutHttpImportsTheClockRandomnessSleepAndLogOnly(string language)
    {
        var imports = FlotillaImports(SdkSamples.Lucky(language));

        Assert.Equal(["log", "now_ms", "random_bytes", "sleep_ms"], imports.Keys.Order());
        AssertAbi(imports);
    }

    [Theory]
    [MemberData(nameof(SdkSamples.HttpLanguages), MemberType = typeof(SdkSamples))]
    public void ASampleWithHttpAlsoImportsCallAndResponseRead(string language)
    {
        var imports = FlotillaImports(SdkSamples.Lucky(language, http: true));

        Assert.Equal(["call", "log", "now_ms", "random_bytes", "response_read", "sleep_ms"], imports.Keys.Order());
        AssertAbi(imports);
    }

    private static void AssertAbi(Dictionary<string, FunctionImport> imports)
    {
        foreach (var (name, import) in imports)
        {
            Assert.Equal(_abi[name].Parameters, import.Parameters);
            Assert.Equal(_abi[name].Results, import.Results);
        }
    }

    private static Dictionary<string, FunctionImport> FlotillaImports(byte[] wasm)
    {
        using var engine = new Engine();
        using var module = Module.FromBytes(engine, "sample", wasm);
        Assert.Contains(module.Exports, e => e.Name == "_start");
        return module.Imports
            .Where(i => i.ModuleName == DurableHostModule.ModuleName)
            .ToDictionary(i => i.Name, i => Assert.IsType<FunctionImport>(i));
    }
}
