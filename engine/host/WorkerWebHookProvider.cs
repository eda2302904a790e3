using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Host.Config;

namespace DurableFhirExport.Engine;

/// <summary>
/// Where the management links (<c>statusQueryGetUri</c>, …) point: the worker's HTTP listener, which
/// proxies <c>/runtime/webhooks/durabletask</c> to the extension's local API, as the Functions host
/// serves it on Azure.
/// </summary>
public sealed class WorkerWebHookProvider(string workerBaseUrl) : IWebHookProvider
{
    public Uri GetUrl(IExtensionConfigProvider extension) =>
        new($"{workerBaseUrl}/runtime/webhooks/durabletask");
}
