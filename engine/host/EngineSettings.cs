namespace DurableFhirExport.Engine;

/// <summary>What the host reads from its environment, with defaults for the repository's build layout.</summary>
public sealed class EngineSettings
{
    /// <summary>The folder with host.json (the app's root).</summary>
    public required string AppRoot { get; init; }

    /// <summary>The Node worker script (dist/engine/worker/engineWorker.js).</summary>
    public required string WorkerScript { get; init; }

    public required string NodeBinary { get; init; }

    /// <summary>Node options of the worker process, as the Functions host's languageWorkers__node__arguments.</summary>
    public required string[] NodeArguments { get; init; }

    /// <summary>HTTP route prefix of the app's triggers (host.json extensions.http.routePrefix).</summary>
    public string RoutePrefix { get; set; } = "api";

    public static EngineSettings FromEnvironment()
    {
        // Built to dist/engine/host/: the app root is three folders up.
        var baseDir = AppContext.BaseDirectory;
        var appRoot = Environment.GetEnvironmentVariable("ENGINE_APP_ROOT")
            ?? Path.GetFullPath(Path.Combine(baseDir, "..", "..", ".."));
        var workerScript = Environment.GetEnvironmentVariable("ENGINE_WORKER_SCRIPT")
            ?? Path.GetFullPath(Path.Combine(baseDir, "..", "worker", "engineWorker.js"));
        var nodeArguments = (Environment.GetEnvironmentVariable("languageWorkers__node__arguments") ?? "")
            .Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new EngineSettings
        {
            AppRoot = appRoot,
            WorkerScript = workerScript,
            NodeBinary = Environment.GetEnvironmentVariable("ENGINE_NODE_BINARY") ?? "node",
            NodeArguments = nodeArguments,
        };
    }

    /// <summary>
    /// Environment the extension reads about its host. FUNCTIONS_WORKER_RUNTIME=node makes it drive
    /// orchestrators out of process, as for a Node app on Azure. Each process needs a worker id of its
    /// own (by default the machine name, shared by every process here). CONTAINER_NAME would make it
    /// assume the Linux Consumption plan and lower its concurrency below host.json's settings.
    /// </summary>
    public void PrepareProcessEnvironment()
    {
        Environment.SetEnvironmentVariable("FUNCTIONS_WORKER_RUNTIME", "node");
        Environment.SetEnvironmentVariable("CONTAINER_NAME", null);
        if (Environment.GetEnvironmentVariable("WEBSITE_CURRENT_STAMPNAME") is null)
            Environment.SetEnvironmentVariable("WEBSITE_CURRENT_STAMPNAME", "local");
        if (Environment.GetEnvironmentVariable("RoleInstanceId") is null)
            Environment.SetEnvironmentVariable("RoleInstanceId", $"engine-{Environment.ProcessId}");
    }
}
