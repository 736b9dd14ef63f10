using Flotilla.Node.Workflows;

namespace Flotilla.Node.Tests.Workflows;

public sealed class ModuleCacheTests : IDisposable
{
    private readonly TempRunner _runners = new();

    public void Dispose() => _runners.Dispose();

    [Fact]
    public async Task ASecondRunnerRunsFromTheDiskCache()
    {
        var echo = BuiltinWorkflows.Get("echo");
        var sha = TempRunner.Sha256(echo);
        var first = _runners.Open();
        Assert.True((await TempRunner.RunAsync(first, echo)).Succeeded);
        var path = first.Cache.CachePath(sha)!;
        Assert.True(File.Exists(path), $"{path} was not written");

        // A fresh runner (a restarted node) whose store has no bytes for the module.
        var second = _runners.Open();
        var outcome = await second.RunAsync(TempRunner.NewRun(echo, """{"again": true}"""), () => null, CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Contains("\"again\": true", outcome.Result);
    }

    [Fact]
    public async Task AFreshNodeWhoseCacheFolderDoesNotExistYetCompilesWithoutAWarning()
    {
        var echo = BuiltinWorkflows.Get("echo");
        var logger = new WarningLog();
        var runner = _runners.Open(logger);
        Assert.False(Directory.Exists(_runners.CacheDirectory));

        Assert.True((await TempRunner.RunAsync(runner, echo)).Succeeded);

        // Nothing to read yet is an ordinary miss: a warning here would greet every new node.
        Assert.Empty(logger.Warnings);
        Assert.True(File.Exists(runner.Cache.CachePath(TempRunner.Sha256(echo))));
    }

    [Fact]
    public async Task ACorruptCacheFileIsDeletedAndRecompiled()
    {
        var echo = BuiltinWorkflows.Get("echo");
        var sha = TempRunner.Sha256(echo);
        Assert.True((await TempRunner.RunAsync(_runners.Open(), echo)).Succeeded);
        var path = _runners.Open().Cache.CachePath(sha)!;
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[bytes.Length / 2] ^= 0xFF;
        await File.WriteAllBytesAsync(path, bytes);

        // Without the original bytes the corrupt file cannot be used...
        var blind = await _runners.Open().RunAsync(TempRunner.NewRun(echo), () => null, CancellationToken.None);
        Assert.Contains("is not available on this node", blind.Error);
        Assert.False(File.Exists(path));

        // ...with them it is recompiled and written again.
        Assert.True((await TempRunner.RunAsync(_runners.Open(), echo)).Succeeded);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public async Task ATruncatedCacheFileIsRecompiled()
    {
        var echo = BuiltinWorkflows.Get("echo");
        var sha = TempRunner.Sha256(echo);
        var runner = _runners.Open();
        var path = runner.Cache.CachePath(sha)!;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, [1, 2, 3]);

        var outcome = await TempRunner.RunAsync(runner, echo);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.True(new FileInfo(path).Length > 3);
    }

    [Fact]
    public void TheCacheFileNameCarriesTheEngineKey()
    {
        var runner = _runners.Open();
        var sha = new string('a', 64);

        Assert.Equal(Path.Combine(_runners.CacheDirectory, $"{sha}-{runner.Cache.EngineKey}.cwasm"), runner.Cache.CachePath(sha));
        Assert.Null(_runners.Open(o => o.CacheDirectory = null).Cache.CachePath(sha));
    }

    [Fact]
    public async Task ANameThatIsNotASha256IsRefused()
    {
        var runner = _runners.Open();
        var run = TempRunner.NewRun(BuiltinWorkflows.Get("echo")) with { ModuleSha256 = "../../etc/passwd" };

        var outcome = await runner.RunAsync(run, () => BuiltinWorkflows.Get("echo"), CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Contains("is unusable", outcome.Error);
    }
}
