using Flotilla.Node.Extensions;

// One Flotilla cluster member: Raft + the SQLite job store + the worker + the node's HTTP routes.
var app = NodeApp.Create(args);
app.Run();
