namespace Flotilla.Benchmark;

/// <summary>
/// The two guests of the durable section: both write <c>{}</c> and exit; the durable one first
/// calls <c>flotilla.now_ms</c> once, which is all it takes to be a durable workflow.
/// </summary>
internal static class DurableNoOps
{
    private const string NowImport = """(import "flotilla" "now_ms" (func $now (result i64)))""";

    public static readonly byte[] Plain = Wasmtime.Module.ConvertText(Guest(durable: false));

    public static readonly byte[] Durable = Wasmtime.Module.ConvertText(Guest(durable: true));

    private static string Guest(bool durable) => $$"""
        (module
          {{(durable ? NowImport : string.Empty)}}
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 16) "{}")
          (func (export "_start")
            {{(durable ? "(drop (call $now))" : string.Empty)}}
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (i32.const 2))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
        """;
}
