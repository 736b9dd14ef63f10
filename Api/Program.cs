using Flotilla.Api.Apis;
using Flotilla.Api.Extensions;
using Flotilla.Api.Security;

// The public front of a Flotilla cluster: validates, then places writes through the leader.
// Its settings files are read from beside the binary, wherever it is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddServiceDefaults();
builder.AddHttpConventions();
builder.AddClusterAccess();
builder.AddApiKeys();
builder.AddWriteRateLimit();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseApiKeys();
app.UseRateLimiter();

app.MapDefaultEndpoints();
app.MapApiReference();
app.MapJobsApi();
app.MapWorkflowsApi();
app.MapClusterApi();
app.MapUi();

app.Run();

/// <summary>Entry point, visible to the tests that host the Api in memory.</summary>
public partial class Program;
