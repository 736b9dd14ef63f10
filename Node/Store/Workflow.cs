namespace Flotilla.Node.Store;

/// <summary>A registered workflow: its name and the SHA-256 (lowercase hex) of its module.</summary>
internal sealed record WorkflowInfo(string Name, string Sha256, long RegisteredAt, int? TimeoutMs = null);

/// <summary>A registered workflow with the bytes of its WebAssembly module.</summary>
internal sealed record WorkflowModule(string Name, string Sha256, long RegisteredAt, byte[] Module, int? TimeoutMs = null);
