using Wasmtime;

namespace Flotilla.Node.Workflows;

internal sealed partial class WasmRunner
{
    /// <summary>
    /// Builds the engine's pooling allocator: every store's memories and tables come from slots
    /// reserved once, so a run neither maps nor unmaps its memory reservation (that was most of
    /// a run's cost). A slot is sized to the caps, so the pool enforces them too.
    /// </summary>
    private static PoolingAllocationConfig PoolFor(SandboxLimits limits, int runs) => new PoolingAllocationConfig()
        .WithMaxCoreInstances((uint)(runs * SandboxLimits.Instances))
        .WithMaxMemories((uint)(runs * SandboxLimits.Memories))
        .WithMaxTables((uint)(runs * SandboxLimits.Tables))
        .WithMaxMemoriesPerModule(SandboxLimits.Memories)
        .WithMaxTablesPerModule(SandboxLimits.Tables)
        .WithMaxMemorySize((nuint)limits.LinearMemoryBytes)
        .WithMaxTableElements(limits.TableElements)
        // A released slot's first pages are zeroed in place instead of handed back to the OS,
        // so the next small guest does not page-fault them in again.
        .WithLinearMemoryKeepResidentBytes(KeepResidentBytes)
        .WithTableKeepResidentBytes(KeepResidentBytes);

    private const nuint KeepResidentBytes = 1024 * 1024;

    /// <summary>
    /// What one run may hold, all of it counted against <c>Workflows:MaxMemoryBytes</c>: one
    /// linear memory, at most <see cref="Tables"/> tables, one instance. The tables get 1/16 of
    /// the cap and the memory the rest, so no combination a module declares or grows can pass
    /// the cap (<c>SetLimits(memorySize:)</c> alone caps each memory, not their number, nor
    /// tables at all: a <c>table.grow</c> of 200M entries took 1.5 GB).
    /// </summary>
    internal sealed record SandboxLimits(long LinearMemoryBytes, uint TableElements)
    {
        /// <summary>A WASI command uses one memory; a second would double what the cap allows.</summary>
        public const int Memories = 1;

        /// <summary>C, Rust, Go and AssemblyScript guests declare one (the indirect-call table); one spare.</summary>
        public const int Tables = 2;

        /// <summary>The workflow itself; WASI is host functions, not an instance.</summary>
        public const int Instances = 1;

        // Wasmtime keeps a table element in one pointer.
        private const int TableElementBytes = 8;

        public static SandboxLimits For(long maxMemoryBytes)
        {
            var tableBytes = maxMemoryBytes / 16;
            var linear = Math.Max(Memory.PageSize, (maxMemoryBytes - tableBytes) / Memory.PageSize * Memory.PageSize);
            var elements = Math.Clamp(tableBytes / (Tables * TableElementBytes), 1, uint.MaxValue);
            return new SandboxLimits(linear, (uint)elements);
        }

        public void Apply(Wasmtime.Store store) => store.SetLimits(
            memorySize: LinearMemoryBytes,
            tableElements: TableElements,
            instances: Instances,
            tables: Tables,
            memories: Memories);
    }
}
