using Wasmtime;

namespace Flotilla.Node.Workflows;

/// <summary>
/// Host functions beyond WASI, such as the durable-workflow imports from <c>flotilla</c>. They
/// are defined once on the runner's shared linker (so they cost nothing per run) and find the
/// calling run's state through <see cref="RunContext.Of"/>, where <see cref="Prepare"/> put it.
/// A function that blocks (a commit, an HTTP call) must wait through
/// <see cref="RunWatch.Wait"/>, or the run's deadline and cancel cannot stop it.
/// </summary>
internal interface IHostModule
{
    /// <summary>Defines the functions on the shared linker; called once, when the runner starts.</summary>
    void Define(Linker linker);

    /// <summary>
    /// Called on the run's thread before the guest is instantiated: attach per-run state with
    /// <see cref="RunContext.Set{T}"/>, or replace the run's <see cref="RunContext.Inputs"/>
    /// (the clock and randomness WASI answers with). <paramref name="module"/> tells whether
    /// the guest imports this module's functions at all.
    /// </summary>
    void Prepare(RunContext context, Module module);
}
