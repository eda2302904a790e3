import { readAuthConfig, type AuthConfig } from './auth/authenticator';
import { isContainerPattern, isValidContainerName } from './destination/containerName';
import { blobEndpointOfConnectionString } from './destination/destinationIdentity';
import { isLoopbackEndpoint } from './util/loopback';
import { parseCosmosConnectionString } from './jobs/cosmosClient';
import {
  ConfigurationError,
  readChoice,
  readDecimal,
  readInteger,
  readSwitch,
  readText,
  type Env,
} from './settings/setting';
import { COSMOS, EXPORT, LIMITS, RETRY, SOURCE_KIND, STORAGE } from './settings/serviceSettings';
import { readFhirSourceConfig, type FhirSourceConfig } from './sources/fhirSourceConfig';
import type { RetryPolicy } from './export/model';

/**
 * The service's one configuration, read from the environment once and validated. A bad setting
 * fails at start with a message naming it. Names, defaults and ranges come from the settings
 * catalogue (src/settings/), which also renders the table in docs/configuration.md.
 */

export { ConfigurationError };

export interface ExportConfig {
  /**
   * Resources asked for per search page (`_count` / `maxItemCount`). Each page costs a stage, a commit,
   * a checkpoint and a durable round trip whatever its size, so larger pages are faster, for one more
   * page body per lane in memory (docs/performance.md, "What to tune").
   */
  resourcesPerPage: number;
  /** Pages a unit orchestration runs before `continueAsNew`, to keep its history small. */
  pagesPerContinueAsNew: number;
  /** An output file rolls over to the next part once it holds this many bytes. */
  fileRollBytes: number;
  /** Units (resource types, or time ranges of a split type) exported at once (lanes of the fan-out). */
  typeParallelism: number;
  /**
   * A type whose source reports more resources than this is split into time ranges that run as
   * parallel units (`EXPORT_RANGE_SPLIT_THRESHOLD`; see src/export/rangePlan.ts). Its default is low
   * enough that a mid-size export's largest type does not end alone in one lane (docs/performance.md).
   */
  rangeSplitThreshold: number;
  /** Most ranges one type is split into (`EXPORT_MAX_RANGES_PER_TYPE`; 1 turns splitting off). */
  maxRangesPerType: number;
  /**
   * Fetch each unit's next page while the current one is written (`EXPORT_SOURCE_READ_AHEAD`;
   * see src/sources/readAheadSource.ts). Overlaps the source's and the storage's latency.
   */
  sourceReadAhead: boolean;
  /**
   * Stage the next page's block while the current page checkpoints, when it was read ahead
   * (`EXPORT_STAGE_AHEAD`; see src/export/stageAhead.ts).
   */
  stageAhead: boolean;
  /**
   * How old a running job's record may be when a page step uses it (`EXPORT_JOB_RECORD_MAX_AGE_MS`;
   * 0 reads it for every page). See src/export/runningJobCache.ts.
   */
  jobRecordMaxAgeMs: number;
  retry: RetryPolicy;
  /** How long an ended export's files are kept and a completed one's manifest answered. */
  fileRetentionHours: number;
  /** How long an ended job's durable history and progress documents are kept. */
  historyRetentionHours: number;
  /** How long an ended job's record is kept (Cosmos DB TTL). */
  jobRecordRetentionDays: number;
  /** Seconds a client is told to wait between status polls (Retry-After). */
  pollRetryAfterSeconds: number;
  /** Jobs that may be Queued or Running at once, across all clients. */
  maxActiveJobs: number;
  /** Jobs one client may have Queued or Running at once. */
  maxActiveJobsPerClient: number;
  /** `download` serves files through the API; `sas` hands out short-lived SAS URLs. */
  fileAccess: 'download' | 'sas';
  /** Lifetime of SAS URLs in `sas` mode. */
  sasLifetimeMinutes: number;
  /** Most files one page of a manifest lists under `allowPartialManifests` (src/export/manifestPages.ts). */
  manifestPageFiles: number;
}

export interface CosmosConfig {
  endpoint: string;
  /** Account key for the emulator or key auth; absent means Entra ID (managed identity). */
  key?: string;
  database: string;
  jobsContainer: string;
  resourcesContainer: string;
}

export interface StorageConfig {
  /** Connection string (Azurite, key auth), or absent to use `accountUrl` with managed identity. */
  connectionString?: string;
  accountUrl?: string;
  container: string;
  /** Other containers a kick-off may name: names, or prefixes ending in `*` (see ContainerPolicy). */
  allowedContainers: string[];
  /** Attempts per storage call, the first included (the SDK's own retries). */
  maxTries: number;
}

export type SourceKind = 'cosmos' | 'fhir';

/** Limits the HTTP API applies to each caller (see docs/security.md, "Limits"). */
export interface ApiLimitsConfig {
  /** Largest request body accepted (POST kick-off); larger ones answer 413. */
  maxRequestBodyBytes: number;
  /** Kick-offs one client may make per minute (token bucket, burst of the same size); 0 turns it off. */
  kickoffRatePerMinute: number;
  /** Minimum time between two status polls of one job by one client; 0 turns it off. */
  pollMinIntervalMs: number;
}

export interface AppConfig {
  export: ExportConfig;
  cosmos: CosmosConfig;
  storage: StorageConfig;
  sourceKind: SourceKind;
  limits: ApiLimitsConfig;
  auth: AuthConfig;
  /** Set when `SOURCE_KIND` is `fhir`. */
  fhirSource?: FhirSourceConfig;
}

function cosmosFromEnv(env: Env): CosmosConfig {
  let endpoint = readText(env, COSMOS.endpoint);
  let key = readText(env, COSMOS.key);
  const connectionString = readText(env, COSMOS.connectionString);
  if (connectionString) {
    try {
      ({ endpoint, key } = parseCosmosConnectionString(connectionString));
    } catch (error) {
      throw new ConfigurationError(COSMOS.connectionString.name, (error as Error).message);
    }
  }
  if (!endpoint) {
    throw new ConfigurationError(COSMOS.endpoint.name, `missing (or set ${COSMOS.connectionString.name})`);
  }
  try {
    new URL(endpoint);
  } catch {
    throw new ConfigurationError(COSMOS.endpoint.name, `"${endpoint}" is not a URL`);
  }
  return {
    endpoint,
    key: key || undefined,
    database: readText(env, COSMOS.database),
    jobsContainer: readText(env, COSMOS.jobsContainer),
    resourcesContainer: readText(env, COSMOS.resourcesContainer),
  };
}

function storageFromEnv(env: Env): StorageConfig {
  const connectionString = readText(env, STORAGE.connectionString);
  const accountUrl = readText(env, STORAGE.accountUrl);
  if (!connectionString && !accountUrl) {
    throw new ConfigurationError(
      STORAGE.accountUrl.name,
      `missing (or set ${STORAGE.connectionString.name} for key-based local storage)`,
    );
  }
  const container = readText(env, STORAGE.container);
  if (!isValidContainerName(container)) {
    throw new ConfigurationError(STORAGE.container.name, `"${container}" is not a valid blob container name`);
  }
  const allowedContainers = (readText(env, STORAGE.allowedContainers) ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  const badEntry = allowedContainers.find((entry) => !isContainerPattern(entry));
  if (badEntry !== undefined) {
    throw new ConfigurationError(
      STORAGE.allowedContainers.name,
      `"${badEntry}" is neither a blob container name nor a prefix followed by *`,
    );
  }
  const maxTries = readInteger(env, STORAGE.maxTries);
  return { connectionString, accountUrl, container, allowedContainers, maxTries };
}

export function exportConfigFromEnv(env: Env): ExportConfig {
  return {
    resourcesPerPage: readInteger(env, EXPORT.resourcesPerPage),
    pagesPerContinueAsNew: readInteger(env, EXPORT.pagesPerContinueAsNew),
    fileRollBytes: readInteger(env, EXPORT.fileRollBytes),
    typeParallelism: readInteger(env, EXPORT.typeParallelism),
    rangeSplitThreshold: readInteger(env, EXPORT.rangeSplitThreshold),
    maxRangesPerType: readInteger(env, EXPORT.maxRangesPerType),
    sourceReadAhead: readSwitch(env, EXPORT.sourceReadAhead),
    stageAhead: readSwitch(env, EXPORT.stageAhead),
    jobRecordMaxAgeMs: readInteger(env, EXPORT.jobRecordMaxAgeMs),
    retry: {
      maxAttempts: readInteger(env, RETRY.maxAttempts),
      firstRetryIntervalMs: readInteger(env, RETRY.firstRetryIntervalMs),
      backoffCoefficient: readDecimal(env, RETRY.backoffCoefficient),
      maxRetryIntervalMs: readInteger(env, RETRY.maxRetryIntervalMs),
      maxThrottleWaits: readInteger(env, RETRY.maxThrottleWaits),
      maxThrottleWaitSeconds: readInteger(env, RETRY.maxThrottleWaitSeconds),
      jobEndDeadlineMinutes: readInteger(env, RETRY.jobEndDeadlineMinutes),
    },
    fileRetentionHours: readInteger(env, EXPORT.fileRetentionHours),
    historyRetentionHours: readInteger(env, EXPORT.historyRetentionHours),
    jobRecordRetentionDays: readInteger(env, EXPORT.jobRecordRetentionDays),
    pollRetryAfterSeconds: readInteger(env, EXPORT.pollRetryAfterSeconds),
    maxActiveJobs: readInteger(env, LIMITS.maxActiveJobs),
    maxActiveJobsPerClient: readInteger(env, LIMITS.maxActiveJobsPerClient),
    fileAccess: readChoice(env, EXPORT.fileAccess),
    sasLifetimeMinutes: readInteger(env, EXPORT.sasLifetimeMinutes),
    manifestPageFiles: readInteger(env, EXPORT.manifestPageFiles),
  };
}

export function apiLimitsFromEnv(env: Env): ApiLimitsConfig {
  return {
    maxRequestBodyBytes: readInteger(env, LIMITS.maxRequestBodyBytes),
    kickoffRatePerMinute: readInteger(env, LIMITS.kickoffRatePerMinute),
    pollMinIntervalMs: readInteger(env, LIMITS.pollMinIntervalMs),
  };
}

/**
 * SAS links are signed with a user delegation key under Entra ID (EXPORT_STORAGE_ACCOUNT_URL), never
 * with an account key: a key-based connection string serves them only for an emulator on loopback.
 */
function assertSasSigning(exportConfig: ExportConfig, storage: StorageConfig): void {
  if (exportConfig.fileAccess !== 'sas' || !storage.connectionString) return;
  const endpoint = blobEndpointOfConnectionString(storage.connectionString);
  if (endpoint && isLoopbackEndpoint(endpoint)) return;
  throw new ConfigurationError(
    EXPORT.fileAccess.name,
    `sas needs ${STORAGE.accountUrl.name} (Entra ID, user delegation SAS) rather than ${STORAGE.connectionString.name}, which is for a local emulator only`,
  );
}

/** Reads and validates the whole configuration. Throws `ConfigurationError` naming the bad setting. */
export function loadConfig(env: Env = process.env): AppConfig {
  const sourceKind = readChoice(env, SOURCE_KIND);
  const exportConfig = exportConfigFromEnv(env);
  const storage = storageFromEnv(env);
  assertSasSigning(exportConfig, storage);
  return {
    export: exportConfig,
    cosmos: cosmosFromEnv(env),
    storage,
    sourceKind,
    limits: apiLimitsFromEnv(env),
    // Read here too, so that a bad AUTH_* or FHIR_SOURCE_* setting stops start-up like any other.
    auth: readAuthConfig(env),
    ...(sourceKind === 'fhir' ? { fhirSource: readFhirSourceConfig(env) } : {}),
  };
}
