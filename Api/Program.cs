using Flotilla.Api.Apis;
using Flotilla.Api.Extensions;
using Scalar.AspNetCore;

// The public front of a Flotilla cluster: validation, routing writes to the leader, OpenAPI.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddFlotillaApi();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();

app.MapDefaultEndpoints();
app.MapOpenApi();
app.MapScalarApiReference();
app.MapJobsApiV1();
app.MapWorkflowsApiV1();
app.MapClusterApiV1();

app.Run();
