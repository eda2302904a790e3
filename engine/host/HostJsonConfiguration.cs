using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace DurableFhirExport.Engine;

/// <summary>
/// The repository's host.json as the Functions host applies it: its <c>extensions</c> section
/// configures the extensions (the WebJobs SDK binds them from <c>AzureWebJobs:extensions:*</c>),
/// <c>%NAME%</c> values resolve from the environment, and <c>AzureFunctionsJobHost__*</c> variables
/// override single settings (tests use that to shorten the backend's timeouts).
/// </summary>
public static class HostJsonConfiguration
{
    private const string WebJobsPrefix = "AzureWebJobs";
    private const string OverridePrefix = "AzureFunctionsJobHost__";

    public static void Add(IConfigurationBuilder config, EngineSettings settings)
    {
        var path = Path.Combine(settings.AppRoot, "host.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        Flatten(document.RootElement, WebJobsPrefix, values);
        foreach (var entry in Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>())
        {
            var name = (string)entry.Key;
            if (!name.StartsWith(OverridePrefix, StringComparison.OrdinalIgnoreCase)) continue;
            var key = name[OverridePrefix.Length..].Replace("__", ":");
            values[$"{WebJobsPrefix}:{key}"] = (string?)entry.Value;
        }
        if (values.TryGetValue($"{WebJobsPrefix}:extensions:http:routePrefix", out var prefix) && prefix is not null)
            settings.RoutePrefix = prefix;
        config.AddEnvironmentVariables();
        config.AddInMemoryCollection(values);
    }

    private static void Flatten(JsonElement element, string key, IDictionary<string, string?> values)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                    Flatten(property.Value, $"{key}:{property.Name}", values);
                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                    Flatten(item, $"{key}:{index++}", values);
                break;
            case JsonValueKind.String:
                values[key] = ResolveNames(element.GetString() ?? "");
                break;
            case JsonValueKind.Null:
                values[key] = null;
                break;
            default:
                values[key] = element.GetRawText();
                break;
        }
    }

    /// <summary>Replaces every <c>%NAME%</c> by that environment variable, as the Functions host's name resolver does.</summary>
    private static string ResolveNames(string value)
    {
        return System.Text.RegularExpressions.Regex.Replace(value, "%([^%]+)%", match =>
            Environment.GetEnvironmentVariable(match.Groups[1].Value)
                ?? throw new InvalidOperationException(
                    $"host.json names %{match.Groups[1].Value}%, which is not set in the environment."));
    }
}
