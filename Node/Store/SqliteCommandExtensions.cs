using Microsoft.Data.Sqlite;

namespace Flotilla.Node.Store;

internal static class SqliteCommandExtensions
{
    /// <summary>Binds a parameter; null becomes SQL NULL.</summary>
    public static SqliteCommand With(this SqliteCommand command, string name, object? value)
    {
        command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }
}
