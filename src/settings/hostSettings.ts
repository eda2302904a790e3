/**
 * Settings outside `loadConfig`: those of the Azure host and telemetry, and those of the local
 * runtime only. Each group has its reader, so that the code using them and the table share names,
 * defaults and ranges as the service's settings do.
 */
import * as path from 'node:path';
import { allowedHostsOf } from '../http/publicBaseUrl';
import { integer, readInteger, readText, text, url, type Env } from './setting';

export const PLATFORM = {
  appInsightsConnectionString: text({
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
    meaning:
      'Application Insights resource for telemetry; without it telemetry is off and one log line says so.',
  }),
  appInsightsAuthenticationString: text({
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
    meaning:
      '`Authorization=AAD`, with `;ClientId={client id}` for a user-assigned identity, sends telemetry with a managed identity token (the Bicep template sets it).',
  }),
  azureClientId: text({
    name: 'AZURE_CLIENT_ID',
    meaning:
      "Client id of the app's user-assigned managed identity, for Entra ID sign-in to Cosmos DB, Blob Storage and a `managed-identity` FHIR source.",
  }),
  publicBaseUrl: url({
    name: 'PUBLIC_BASE_URL',
    meaning:
      'FHIR base URL the service gives in its answers (status location, manifest, CapabilityStatement); by default the origin the client called plus `/api`.',
  }),
  allowedHosts: text({
    name: 'ALLOWED_HOSTS',
    default: 'localhost,127.0.0.1,[::1]',
    meaning:
      'Hosts (`name`, any port, or `name:port`, comma-separated) whose `Host` header the service builds its links on when `PUBLIC_BASE_URL` is not set; a request naming another host answers `400`. The Bicep template sets `PUBLIC_BASE_URL` instead.',
  }),
  taskHubName: text({
    name: 'TASK_HUB_NAME',
    default: 'FhirExportHub',
    meaning:
      'Durable task hub, named in `host.json` as `%TASK_HUB_NAME%`; the Bicep template sets it on Azure, the local starts default to it.',
  }),
};

export interface PlatformSettings {
  appInsightsConnectionString?: string;
  appInsightsAuthenticationString?: string;
  azureClientId?: string;
  publicBaseUrl?: string;
  allowedHosts: string[];
  taskHubName: string;
}

/** Reads the host and telemetry settings; none of them can be invalid, so this never throws. */
export function platformSettingsFromEnv(env: Env): PlatformSettings {
  return {
    appInsightsConnectionString: readText(env, PLATFORM.appInsightsConnectionString)?.trim() || undefined,
    appInsightsAuthenticationString: readText(env, PLATFORM.appInsightsAuthenticationString),
    azureClientId: readText(env, PLATFORM.azureClientId)?.trim() || undefined,
    publicBaseUrl: readText(env, PLATFORM.publicBaseUrl),
    allowedHosts: allowedHostsOf(readText(env, PLATFORM.allowedHosts)),
    taskHubName: readText(env, PLATFORM.taskHubName),
  };
}

export const LOCAL = {
  port: integer({
    name: 'PORT',
    default: 7071,
    min: 0,
    max: 65_535,
    meaning: 'Loopback port of the API under `npm start`; `0` takes a free one.',
  }),
  dataDir: text({
    name: 'DATA_DIR',
    default: '.local',
    meaning: "Folder of the local runtime's data: Azurite's blobs, durable history and the process id file.",
  }),
  demoPatients: integer({
    name: 'DEMO_PATIENTS',
    default: 25,
    min: 1,
    max: 1_000_000,
    meaning: 'Patients of the demo data `npm start` seeds when the Cosmos DB source is empty.',
  }),
  maxConcurrentActivities: integer({
    name: 'LOCAL_MAX_CONCURRENT_ACTIVITIES',
    default: 8,
    min: 1,
    max: 1024,
    meaning:
      "Activities the embedded runtime runs at once, as `host.json`'s `maxConcurrentActivityFunctions` on Azure.",
  }),
};

export interface LocalSettings {
  port: number;
  /** Absolute. */
  dataDir: string;
  demoPatients: number;
  maxConcurrentActivities: number;
}

/** Reads the local runtime's settings; throws `ConfigurationError` naming a bad one. */
export function localSettingsFromEnv(env: Env): LocalSettings {
  return {
    port: readInteger(env, LOCAL.port),
    dataDir: path.resolve(readText(env, LOCAL.dataDir)),
    demoPatients: readInteger(env, LOCAL.demoPatients),
    maxConcurrentActivities: readInteger(env, LOCAL.maxConcurrentActivities),
  };
}
