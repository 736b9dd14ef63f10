namespace Flotilla.Cluster.Tests;

/// <summary>The last lines a child process wrote, kept to explain a failing test.</summary>
internal sealed class OutputTail(string name, int capacity = 300)
{
    private readonly Queue<string> _lines = new();

    public void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lines)
        {
            _lines.Enqueue(line);
            while (_lines.Count > capacity)
            {
                _lines.Dequeue();
            }
        }
    }

    public override string ToString()
    {
        lock (_lines)
        {
            return $"--- {name} (last {_lines.Count} lines) ---{Environment.NewLine}{string.Join(Environment.NewLine, _lines)}";
        }
    }
}
