namespace Flotilla.Node.Cluster;

/// <summary>
/// A second copy of the membership file (<c>members.bin</c>), for a node that loses the first.
/// DotNext 6.12 sends a member the cluster's membership only with a snapshot install, so a
/// member restarted without its file was reached by its leader's entries but learnt nothing,
/// and stayed "not a member" (FoundingTests failed that way in CI, about one run in four). With
/// the copy it starts with the membership it had, standing by (it may miss the last change, so
/// it must not lead on it) until a leader reaches it.
/// </summary>
internal sealed partial class MembershipBackup(string membersFile, ILogger logger)
{
    // A membership change copied within this long; the file is a few hundred bytes, read and compared only.
    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(250);

    private string CopyFile => membersFile + ".copy";

    // What the copy holds, once read or written: each refresh then reads only the membership file.
    private byte[]? _copied;

    /// <summary>Puts the copy back when the membership file is missing or empty; true if it did.</summary>
    public bool TryRestore()
    {
        var file = new FileInfo(membersFile);
        var copy = new FileInfo(CopyFile);
        if ((file.Exists && file.Length > 0) || !copy.Exists || copy.Length == 0)
        {
            return false;
        }

        var temporary = membersFile + ".restoring";
        File.Copy(copy.FullName, temporary, overwrite: true);
        File.Move(temporary, membersFile, overwrite: true);
        LogRestored(membersFile, copy.FullName);
        return true;
    }

    /// <summary>Keeps the copy equal to the membership file, checking four times a second, until stopped.</summary>
    public async Task RunAsync(CancellationToken token)
    {
        using var timer = new PeriodicTimer(Every);
        try
        {
            do
            {
                try
                {
                    Refresh();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    LogCopyFailed(ex.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private void Refresh()
    {
        if (!File.Exists(membersFile))
        {
            return;
        }

        // DotNext replaces the file with a moved one, so a read sees a whole version.
        var current = File.ReadAllBytes(membersFile);
        _copied ??= File.Exists(CopyFile) ? File.ReadAllBytes(CopyFile) : [];
        if (current.Length == 0 || _copied.AsSpan().SequenceEqual(current))
        {
            return;
        }

        var temporary = CopyFile + ".partial";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            stream.Write(current);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, CopyFile, overwrite: true);
        _copied = current;
    }

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "The membership file {File} was missing or empty; restored it from {Copy}. Standing by until a leader reaches this node")]
    private partial void LogRestored(string file, string copy);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "Could not refresh the membership file's copy: {Reason}")]
    private partial void LogCopyFailed(string reason);
}
