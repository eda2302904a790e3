using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Extensions.DurableTask;

namespace DurableFhirExport.Engine;

/// <summary>
/// Called once at start: the extension's own durable client binding produces the JSON that the
/// Node SDK's <c>df.getClient</c> reads (task hub, management URLs, <c>rpcBaseUrl</c>).
/// </summary>
public static class DurableClientProbe
{
    public const string FunctionName = "engineDurableClientProbe";

    public static string? ClientJson { get; private set; }

    [NoAutomaticTrigger]
    [FunctionName(FunctionName)]
    public static void Run([DurableClient] string client)
    {
        ClientJson = client;
    }
}
