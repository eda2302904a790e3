using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Newtonsoft.Json.Linq;

namespace DurableFhirExport.Engine;

/// <summary>
/// The Node process that runs the app's functions, as the Functions host's language worker: the
/// host starts it with a stdin pipe (it ends when the host dies, however it dies) and hands it each
/// orchestrator and activity invocation over loopback HTTP.
/// </summary>
public sealed class NodeWorker : IDisposable
{
    private const string WorkerReadyPrefix = "WORKER ";

    /// <summary>The worker of this process, for the generated trigger functions (static, as the WebJobs SDK calls them).</summary>
    public static NodeWorker? Current { get; set; }

    private readonly EngineSettings settings;
    private readonly HttpClient http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 64 })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };
    private readonly TaskCompletionSource<int> exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? process;
    private string baseUrl = "";

    public NodeWorker(EngineSettings settings) => this.settings = settings;

    /// <summary>Completes with the worker's exit code when it ends.</summary>
    public Task<int> Exited => exited.Task;

    /// <summary>Starts the worker and waits until it listens; returns its base URL.</summary>
    public async Task<string> StartAsync()
    {
        var start = new ProcessStartInfo(settings.NodeBinary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        foreach (var argument in settings.NodeArguments) start.ArgumentList.Add(argument);
        start.ArgumentList.Add(settings.WorkerScript);
        start.Environment["ENGINE_WORKER_EXIT_WITH_STDIN"] = "1";

        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            if (!ready.Task.IsCompleted && e.Data.StartsWith(WorkerReadyPrefix, StringComparison.Ordinal))
                ready.TrySetResult(e.Data[WorkerReadyPrefix.Length..].Trim());
            else
                Console.WriteLine(e.Data);
        };
        process.Exited += (_, _) =>
        {
            var code = process.ExitCode;
            ready.TrySetException(new InvalidOperationException($"The Node worker exited before it was ready (code {code})."));
            exited.TrySetResult(code);
        };
        process.Start();
        process.BeginOutputReadLine();
        baseUrl = await ready.Task;
        return baseUrl;
    }

    /// <summary>Gives the worker the durable client JSON for its HTTP triggers' durableClient inputs.</summary>
    public async Task SendDurableClientAsync(string clientJson)
    {
        using var content = new StringContent(clientJson, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync($"{baseUrl}/_engine/durable-client", content);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>
    /// Runs an orchestrator episode: the extension's payload (history, input, …) in, the SDK's
    /// orchestrator state out, as text. A failed orchestrator is thrown in the form the extension
    /// parses for out-of-process failures, so its details reach the orchestration's output.
    /// </summary>
    public async Task<string> RunOrchestratorAsync(string functionName, string payload)
    {
        var outcome = await InvokeAsync(functionName, payload);
        if (outcome.Failure is { } failure)
            throw new Exception($"Result: Failure\nException: {failure.Message}\nStack: {failure.Stack}");
        return outcome.Result ?? "null";
    }

    /// <summary>Runs an activity: its input as JSON text in, its result as a JSON value out.</summary>
    public async Task<JToken?> RunActivityAsync(string functionName, string input)
    {
        var outcome = await InvokeAsync(functionName, input);
        if (outcome.Failure is { } failure) throw new NodeFunctionException(failure.Message, failure.Stack);
        return outcome.Result is null ? null : JToken.Parse(outcome.Result);
    }

    private async Task<Outcome> InvokeAsync(string functionName, string payload)
    {
        using var content = new StringContent(payload, Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        string body;
        try
        {
            response = await http.PostAsync($"{baseUrl}/_engine/invoke/{Uri.EscapeDataString(functionName)}", content);
            body = await response.Content.ReadAsStringAsync();
        }
        catch (HttpRequestException error)
        {
            // The worker died under this invocation. Reporting that as the function's failure would
            // write a failure into the orchestration's history that the app never produced; instead
            // the host dies too, as an instance whose worker crashed, and the work is redelivered.
            Crash($"the Node worker stopped answering during '{functionName}': {error.Message}");
            throw;
        }
        using var _ = response;
        if (response.StatusCode == HttpStatusCode.OK) return new Outcome(body, null);
        if (response.StatusCode == HttpStatusCode.InternalServerError)
        {
            var failure = JsonSerializer.Deserialize<Failure>(body, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })
                ?? new Failure("The worker reported a failure without details.", "");
            return new Outcome(null, failure);
        }
        throw new InvalidOperationException($"The worker answered {(int)response.StatusCode} for '{functionName}': {body}");
    }

    /// <summary>Ends this process at once, without letting the extension finish any work item.</summary>
    public static void Crash(string reason)
    {
        Console.Error.WriteLine($"[engine] {reason}; the host stops.");
        Console.Error.Flush();
        Process.GetCurrentProcess().Kill();
    }

    public void Dispose()
    {
        http.Dispose();
        if (process is { HasExited: false })
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        }
        process?.Dispose();
    }

    private sealed record Outcome(string? Result, Failure? Failure);

    private sealed record Failure(string Message, string Stack);
}

/// <summary>An activity that threw in the worker: its message becomes the TaskFailed reason.</summary>
public sealed class NodeFunctionException(string message, string stack) : Exception(message)
{
    public override string StackTrace => stack;
}
