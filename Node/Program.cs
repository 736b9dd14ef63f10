using Flotilla.Node.Extensions;
using Flotilla.Node.Http;

// One Flotilla cluster member: Raft + the SQLite job store + the node's HTTP routes.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddFlotillaNode();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapDefaultEndpoints();
app.MapJobsApi();
app.MapWorkflowsApi();
app.MapClusterApi();

app.Run();
