using Flotilla.Api.Cluster;

// The public front of a Flotilla cluster.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.Services.AddSingleton<NodeDirectory>();
builder.Services.AddHealthChecks().AddCheck<LeaderKnownHealthCheck>("cluster-leader");
builder.Services.AddProblemDetails();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapDefaultEndpoints();
app.MapForwardedRoutes();

app.Run();
