using System.Runtime.InteropServices;
using Flotilla.Node.Store;

namespace Flotilla.Node.Tests.Store;

public sealed class NativeHeapSettingsTests
{
    [Fact]
    public void GlibcTakesTheTrimAndMmapThresholds()
    {
        var glibc = OperatingSystem.IsLinux() && !RuntimeInformation.RuntimeIdentifier.Contains("musl", StringComparison.Ordinal);

        // mallopt answers 1 only for an option and value glibc accepted; elsewhere nothing is set.
        Assert.Equal(glibc, NativeHeapSettings.Apply());
    }
}
