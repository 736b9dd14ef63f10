using Flotilla.Node.Cluster;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flotilla.Node.Tests.Cluster;

public sealed class MembershipBackupTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("flotilla-members-");

    private string MembersFile => Path.Combine(_dir.FullName, "members.bin");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task TheCopyFollowsTheMembershipFileAndComesBackWhenItIsLost()
    {
        var backup = new MembershipBackup(MembersFile, NullLogger.Instance);
        File.WriteAllBytes(MembersFile, [1, 2, 3]);
        await RunBrieflyAsync(backup);
        File.WriteAllBytes(MembersFile, [4, 5, 6, 7]);
        await RunBrieflyAsync(backup);

        File.Delete(MembersFile);
        Assert.True(backup.TryRestore());
        Assert.Equal([4, 5, 6, 7], File.ReadAllBytes(MembersFile));
    }

    [Fact]
    public async Task AnEmptyMembershipFileIsReplacedButNeverCopied()
    {
        var backup = new MembershipBackup(MembersFile, NullLogger.Instance);
        File.WriteAllBytes(MembersFile, [9, 9]);
        await RunBrieflyAsync(backup);
        File.WriteAllBytes(MembersFile, []);
        await RunBrieflyAsync(backup);

        Assert.True(backup.TryRestore());
        Assert.Equal([9, 9], File.ReadAllBytes(MembersFile));
    }

    [Fact]
    public void APresentMembershipFileOrAMissingCopyIsLeftAlone()
    {
        var backup = new MembershipBackup(MembersFile, NullLogger.Instance);
        Assert.False(backup.TryRestore());
        Assert.False(File.Exists(MembersFile));

        File.WriteAllBytes(MembersFile + ".copy", [1]);
        File.WriteAllBytes(MembersFile, [2]);
        Assert.False(backup.TryRestore());
        Assert.Equal([2], File.ReadAllBytes(MembersFile));
    }

    // One pass at least: the loop refreshes at once, then every 250 ms.
    private static async Task RunBrieflyAsync(MembershipBackup backup)
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await backup.RunAsync(stop.Token);
    }
}
