import { readAuthConfig, type AuthConfig } from './auth/authenticator';
import { isValidContainerName } from './destination/containerName';
import { parseCosmosConnectionString } from './jobs/cosmosClient';
import { readFhirSourceConfig, type FhirSourceConfig } from './sources/fhirSourceConfig';

/**
 * The service's one configuration, read from the environment once and validated. A bad setting
 * fails at start with a message naming it. Defaults are the documented ones (README, "Configuration").
 */

export class ConfigurationError extends Error {
  constructor(setting: string, problem: string) {
    super(`Invalid setting ${setting}: ${problem}`);
    this.name = 'ConfigurationError';
  }
}

export interface RetryPolicyConfig {
  /** Attempts of one page before the job fails with 503. */
  maxAttempts: number;
  firstRetryIntervalMs: number;
  backoffCoefficient: number;
  maxRetryIntervalMs: number;
  /** How many times one unit may be throttled (429 + Retry-After) in a row before it fails. */
  maxThrottleWaits: number;
  /** Longest Retry-After honoured; longer requests are capped. */
  maxThrottleWaitSeconds: number;
}

export interface ExportConfig {
  /**
   * Resources asked for per search page (`_count` / `maxItemCount`). Each page costs a stage, a commit,
   * a checkpoint and a durable round trip whatever its size: at 2,000 instead of 1,000 a 1M benchmark
   * export ran 27 % faster, for one more page body per lane in memory (docs/performance.md, run J).
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
   * parallel units (`EXPORT_RANGE_SPLIT_THRESHOLD`, default 20,000; see src/export/rangePlan.ts). Low
   * enough that a mid-size export's largest type does not end alone in one lane (docs/performance.md).
   */
  rangeSplitThreshold: number;
  /** Most ranges one type is split into (`EXPORT_MAX_RANGES_PER_TYPE`, default 4; 1 turns splitting off). */
  maxRangesPerType: number;
  /**
   * Fetch each unit's next page while the current one is written (`EXPORT_SOURCE_READ_AHEAD`, `on`
   * by default; see src/sources/readAheadSource.ts). Overlaps the source's and the storage's latency.
   */
  sourceReadAhead: boolean;
  /**
   * Stage the next page's block while the current page checkpoints, when it was read ahead
   * (`EXPORT_STAGE_AHEAD`, `on` by default; see src/export/stageAhead.ts).
   */
  stageAhead: boolean;
  /**
   * How old a running job's record may be when a page step uses it (`EXPORT_JOB_RECORD_MAX_AGE_MS`,
   * default 1000; 0 reads it for every page). See src/export/runningJobCache.ts.
   */
  jobRecordMaxAgeMs: number;
  retry: RetryPolicyConfig;
  /** How long a completed export's files are kept and its manifest answered. */
  fileRetentionHours: number;
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
  /** Attempts per storage call, the first included (the SDK's own retries). Default 4. */
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

type Env = Record<string, string | undefined>;

function intSetting(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigurationError(name, `"${raw}" is not a whole number`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigurationError(name, `${value} is outside ${min}..${max}`);
  return value;
}

function numberSetting(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new ConfigurationError(name, `"${raw}" is not a number`);
  if (value < min || value > max) throw new ConfigurationError(name, `${value} is outside ${min}..${max}`);
  return value;
}

function choiceSetting<T extends string>(env: Env, name: string, fallback: T, choices: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new ConfigurationError(name, `"${raw}" is not one of ${choices.join(', ')}`);
  }
  return raw as T;
}

function cosmosFromEnv(env: Env): CosmosConfig {
  let endpoint = env.COSMOS_ENDPOINT;
  let key = env.COSMOS_KEY;
  const connectionString = env.COSMOS_CONNECTION_STRING;
  if (connectionString) {
    try {
      ({ endpoint, key } = parseCosmosConnectionString(connectionString));
    } catch (error) {
      throw new ConfigurationError('COSMOS_CONNECTION_STRING', (error as Error).message);
    }
  }
  if (!endpoint) throw new ConfigurationError('COSMOS_ENDPOINT', 'missing (or set COSMOS_CONNECTION_STRING)');
  try {
    new URL(endpoint);
  } catch {
    throw new ConfigurationError('COSMOS_ENDPOINT', `"${endpoint}" is not a URL`);
  }
  return {
    endpoint,
    key: key || undefined,
    database: env.COSMOS_DATABASE || 'fhir-export',
    jobsContainer: env.COSMOS_JOBS_CONTAINER || 'jobs',
    resourcesContainer: env.COSMOS_RESOURCES_CONTAINER || 'resources',
  };
}

function storageFromEnv(env: Env): StorageConfig {
  const connectionString = env.EXPORT_STORAGE_CONNECTION_STRING || undefined;
  const accountUrl = env.EXPORT_STORAGE_ACCOUNT_URL || undefined;
  if (!connectionString && !accountUrl) {
    throw new ConfigurationError(
      'EXPORT_STORAGE_ACCOUNT_URL',
      'missing (or set EXPORT_STORAGE_CONNECTION_STRING for key-based local storage)',
    );
  }
  const container = env.EXPORT_CONTAINER || 'fhir-export';
  if (!isValidContainerName(container)) {
    throw new ConfigurationError('EXPORT_CONTAINER', `"${container}" is not a valid blob container name`);
  }
  const maxTries = intSetting(env, 'EXPORT_STORAGE_MAX_TRIES', 4, 1, 20);
  return { connectionString, accountUrl, container, maxTries };
}

export function exportConfigFromEnv(env: Env): ExportConfig {
  return {
    resourcesPerPage: intSetting(env, 'EXPORT_RESOURCES_PER_PAGE', 2000, 1, 10000),
    pagesPerContinueAsNew: intSetting(env, 'EXPORT_PAGES_PER_CONTINUE_AS_NEW', 20, 1, 1000),
    fileRollBytes: intSetting(env, 'EXPORT_FILE_ROLL_BYTES', 64 * 1024 * 1024, 1024, 4 * 1024 * 1024 * 1024),
    typeParallelism: intSetting(env, 'EXPORT_TYPE_PARALLELISM', 4, 1, 64),
    rangeSplitThreshold: intSetting(env, 'EXPORT_RANGE_SPLIT_THRESHOLD', 20_000, 1, 1_000_000_000),
    maxRangesPerType: intSetting(env, 'EXPORT_MAX_RANGES_PER_TYPE', 4, 1, 64),
    sourceReadAhead: choiceSetting(env, 'EXPORT_SOURCE_READ_AHEAD', 'on', ['on', 'off'] as const) === 'on',
    stageAhead: choiceSetting(env, 'EXPORT_STAGE_AHEAD', 'on', ['on', 'off'] as const) === 'on',
    jobRecordMaxAgeMs: intSetting(env, 'EXPORT_JOB_RECORD_MAX_AGE_MS', 1000, 0, 60_000),
    retry: {
      maxAttempts: intSetting(env, 'EXPORT_RETRY_MAX_ATTEMPTS', 5, 1, 100),
      firstRetryIntervalMs: intSetting(env, 'EXPORT_RETRY_FIRST_INTERVAL_MS', 2000, 1, 3_600_000),
      backoffCoefficient: numberSetting(env, 'EXPORT_RETRY_BACKOFF', 2, 1, 10),
      maxRetryIntervalMs: intSetting(env, 'EXPORT_RETRY_MAX_INTERVAL_MS', 60_000, 1, 86_400_000),
      maxThrottleWaits: intSetting(env, 'EXPORT_MAX_THROTTLE_WAITS', 20, 0, 10_000),
      maxThrottleWaitSeconds: intSetting(env, 'EXPORT_MAX_THROTTLE_WAIT_SECONDS', 300, 1, 86_400),
    },
    fileRetentionHours: intSetting(env, 'EXPORT_FILE_RETENTION_HOURS', 24, 1, 24 * 365),
    pollRetryAfterSeconds: intSetting(env, 'EXPORT_POLL_RETRY_AFTER_SECONDS', 5, 1, 3600),
    maxActiveJobs: intSetting(env, 'EXPORT_MAX_ACTIVE_JOBS', 20, 1, 10_000),
    maxActiveJobsPerClient: intSetting(env, 'EXPORT_MAX_ACTIVE_JOBS_PER_CLIENT', 5, 1, 10_000),
    fileAccess: choiceSetting(env, 'EXPORT_FILE_ACCESS', 'download', ['download', 'sas'] as const),
    sasLifetimeMinutes: intSetting(env, 'EXPORT_SAS_LIFETIME_MINUTES', 60, 1, 7 * 24 * 60),
  };
}

export function apiLimitsFromEnv(env: Env): ApiLimitsConfig {
  return {
    maxRequestBodyBytes: intSetting(env, 'MAX_REQUEST_BODY_BYTES', 1024 * 1024, 1024, 100 * 1024 * 1024),
    kickoffRatePerMinute: intSetting(env, 'EXPORT_KICKOFF_RATE_PER_MINUTE', 60, 0, 1_000_000),
    pollMinIntervalMs: intSetting(env, 'EXPORT_POLL_MIN_INTERVAL_MS', 1000, 0, 3_600_000),
  };
}

/** Reads and validates the whole configuration. Throws `ConfigurationError` naming the bad setting. */
export function loadConfig(env: Env = process.env): AppConfig {
  const sourceKind = choiceSetting(env, 'SOURCE_KIND', 'cosmos', ['cosmos', 'fhir'] as const);
  return {
    export: exportConfigFromEnv(env),
    cosmos: cosmosFromEnv(env),
    storage: storageFromEnv(env),
    sourceKind,
    limits: apiLimitsFromEnv(env),
    // Read here too, so that a bad AUTH_* or FHIR_SOURCE_* setting stops start-up like any other.
    auth: readAuthConfig(env),
    ...(sourceKind === 'fhir' ? { fhirSource: readFhirSourceConfig(env) } : {}),
  };
}
