using Microsoft.Extensions.Logging;

namespace DurableFhirExport.Engine;

/// <summary>
/// Console logs of the host: warnings and errors by default, the extension's own trace at
/// ENGINE_LOG_LEVEL (e.g. Information) when asked for.
/// </summary>
public static class EngineLogging
{
    public static void Configure(ILoggingBuilder logging, EngineSettings settings)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(options =>
        {
            options.SingleLine = true;
            options.TimestampFormat = "HH:mm:ss.fff ";
        });
        logging.SetMinimumLevel(LogLevel.Warning);
        var level = Environment.GetEnvironmentVariable("ENGINE_LOG_LEVEL");
        if (level is not null && Enum.TryParse<LogLevel>(level, ignoreCase: true, out var parsed))
        {
            logging.AddFilter("Host.Triggers.DurableTask", parsed);
            logging.AddFilter("DurableTask", parsed);
            logging.AddFilter("Microsoft.Azure.WebJobs.Extensions.DurableTask", parsed);
        }
        // The extension's event stream for the Linux log collector; noise outside Azure.
        logging.AddFilter("DurableTask.AzureStorage", LogLevel.Error);
    }
}
