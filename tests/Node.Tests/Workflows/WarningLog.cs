using Flotilla.Node.Workflows;
using Microsoft.Extensions.Logging;

namespace Flotilla.Node.Tests.Workflows;

/// <summary>Keeps the warnings (and worse) a runner logs.</summary>
internal sealed class WarningLog : ILogger<WasmRunner>
{
    public List<string> Warnings { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            lock (Warnings)
            {
                Warnings.Add(formatter(state, exception));
            }
        }
    }
}
