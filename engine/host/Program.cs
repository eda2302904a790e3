// The real-engine host: the Durable Task extension on the WebJobs SDK, as the Functions host runs it
// on Azure, with the app's orchestrators and activities executed by a Node worker process.
//
// Start-up order: the worker first (it loads the app and listens), then the WebJobs host (its
// listeners start dispatching at once, so the worker must already answer), then the durable client
// JSON goes to the worker for the HTTP triggers, and `READY {apiBaseUrl}` goes to stdout.
using System.Runtime.InteropServices;
using DurableFhirExport.Engine;
using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Extensions.DurableTask;
using Microsoft.Azure.WebJobs.Host.Config;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var settings = EngineSettings.FromEnvironment();
settings.PrepareProcessEnvironment();

// Registered before anything starts, so that a stop request during start-up is honoured too (the
// generic host's console lifetime would otherwise take the signal and nobody would act on it).
using var stopping = new CancellationTokenSource();
// SIGTERM and SIGINT stop the host gracefully: running invocations finish, leases are released.
using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal => { signal.Cancel = true; stopping.Cancel(); });
using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, signal => { signal.Cancel = true; stopping.Cancel(); });
// Started with a stdin pipe by a parent (npm run start:engine, tests): when that parent dies, however
// it dies, the pipe closes and the host stops too instead of living on as an orphan.
if (Environment.GetEnvironmentVariable("APP_HOST_EXIT_WITH_STDIN") == "1")
{
    _ = Task.Run(async () =>
    {
        try { await Console.OpenStandardInput().CopyToAsync(Stream.Null); } catch (IOException) { }
        stopping.Cancel();
    });
}

using var worker = new NodeWorker(settings);
string workerBaseUrl;
try
{
    workerBaseUrl = await worker.StartAsync();
}
catch (InvalidOperationException error)
{
    // The app refused to start (a bad setting, say) and said why on stderr: end as it ended.
    Console.Error.WriteLine($"[engine] {error.Message}");
    return worker.Exited.IsCompleted && worker.Exited.Result != 0 ? worker.Exited.Result : 1;
}
NodeWorker.Current = worker;
if (stopping.IsCancellationRequested) return 0;

var host = new HostBuilder()
    .ConfigureAppConfiguration(config => HostJsonConfiguration.Add(config, settings))
    .ConfigureWebJobs(webJobs => webJobs.AddDurableTask())
    .ConfigureLogging(logging => EngineLogging.Configure(logging, settings))
    .ConfigureServices(services =>
        services.AddSingleton<IWebHookProvider>(new WorkerWebHookProvider(workerBaseUrl)))
    .Build();

host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(stopping.Cancel);
try
{
    await host.StartAsync(stopping.Token);
}
catch (OperationCanceledException)
{
}
if (stopping.IsCancellationRequested)
{
    await StopHostAsync(host);
    return 0;
}

var jobHost = host.Services.GetRequiredService<IJobHost>();
await jobHost.CallAsync(DurableClientProbe.FunctionName);
var clientJson = DurableClientProbe.ClientJson
    ?? throw new InvalidOperationException("The durable client binding produced nothing.");
await worker.SendDurableClientAsync(clientJson);

Console.WriteLine($"READY {workerBaseUrl}/{settings.RoutePrefix}");

// A worker that dies takes the host down with it, as a recycled instance: whoever started this
// process decides whether to start another (npm run start:engine does).
var workerExit = worker.Exited;
var finished = await Task.WhenAny(workerExit, Task.Delay(Timeout.Infinite, stopping.Token).ContinueWith(_ => 0));
if (finished == workerExit)
{
    NodeWorker.Crash($"the Node worker exited (code {workerExit.Result})");
}

await StopHostAsync(host);
return 0;

static async Task StopHostAsync(IHost host)
{
    using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
    try { await host.StopAsync(stopTimeout.Token); } catch (OperationCanceledException) { }
}
