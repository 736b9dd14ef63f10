# One Flotilla node as a container, for publish mode (azd / Azure Container Apps). The AppHost
# builds it with the repository root as the context: the node compiles against Client/ and
# ServiceDefaults/. Data lives on the volume the AppHost mounts at /var/lib/flotilla.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
# Build outputs of the machine that published have no place in the image.
RUN find . -type d \( -name bin -o -name obj -o -name .data \) -prune -exec rm -rf {} + \
 && dotnet publish Node/Node.csproj -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# HTTP (ASPNETCORE_HTTP_PORTS) and the Raft listeners the AppHost fixes (7101-7103).
EXPOSE 8080 7101 7102 7103
ENTRYPOINT ["dotnet", "Node.dll"]
