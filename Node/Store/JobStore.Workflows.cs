using System.Security.Cryptography;

namespace Flotilla.Node.Store;

// RegisterWorkflow: modules stored once per SHA-256, names pointing at them, old versions kept
// while unfinished jobs are pinned to them (PurgeModules).
internal sealed partial class JobStore
{
    private long _workflowsVersion;

    /// <summary>Changes whenever a registration may have changed (a cache of workflows compares it).</summary>
    public long WorkflowsVersion => Interlocked.Read(ref _workflowsVersion);

    private CommandResult Register(RegisterWorkflow command, long now)
    {
        if (string.IsNullOrWhiteSpace(command.Name) || command.Name.Length > MaxIdLength)
        {
            return new Rejected($"register_workflow: name must be 1..{MaxIdLength} characters and not blank");
        }

        if (command.Module is null || command.Module.Length == 0 || command.Sha256 is null)
        {
            return new Rejected("register_workflow: module and sha256 are required");
        }

        if (command.TimeoutMs is <= 0)
        {
            return new Rejected("register_workflow: timeout_ms must be positive");
        }

        var sha256 = Convert.ToHexStringLower(SHA256.HashData(command.Module));
        if (!string.Equals(sha256, command.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            return new Rejected($"register_workflow: sha256 {command.Sha256} does not match the module ({sha256})");
        }

        Write(Schema.ModuleInsert).With("$sha256", sha256).With("$bytes", command.Module).ExecuteNonQuery();
        Write(Schema.WorkflowUpsert)
            .With("$name", command.Name)
            .With("$sha256", sha256)
            .With("$now", now)
            .With("$timeout_ms", command.TimeoutMs)
            .ExecuteNonQuery();
        // The module this replaces stays while unfinished jobs are pinned to it (PurgeModules
        // collects it later); one no job needs goes now.
        Write(Schema.ModulesDeleteUnreferenced).ExecuteNonQuery();
        Interlocked.Increment(ref _workflowsVersion);
        return new CountResult(1);
    }

    private CommandResult PurgeUnusedModules() => new CountResult(Write(Schema.ModulesDeleteUnreferenced).ExecuteNonQuery());
}
