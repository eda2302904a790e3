/**
 * Settings of the service itself: where data lives, how an export runs, and the limits of the API.
 * `loadConfig` (src/config.ts) reads every one of them through these entries.
 */
import { choice, decimal, integer, list, onOff, secret, text, url } from './setting';

const MIB = 1024 * 1024;

export const COSMOS = {
  endpoint: url({
    name: 'COSMOS_ENDPOINT',
    required: true,
    meaning:
      'Cosmos DB account endpoint, e.g. `https://{account}.documents.azure.com:443/`; not needed with `COSMOS_CONNECTION_STRING`.',
  }),
  key: secret({
    name: 'COSMOS_KEY',
    meaning: 'Account key (emulator or key authentication); without one the app signs in with Entra ID.',
  }),
  connectionString: secret({
    name: 'COSMOS_CONNECTION_STRING',
    meaning: '`AccountEndpoint=…;AccountKey=…;` in place of the two settings above, and used over them.',
  }),
  database: text({
    name: 'COSMOS_DATABASE',
    default: 'fhir-export',
    meaning: "Database of the jobs container and of the Cosmos DB source's resources container.",
  }),
  jobsContainer: text({
    name: 'COSMOS_JOBS_CONTAINER',
    default: 'jobs',
    meaning: 'Container of the job records and progress documents (partition key `/jobId`).',
  }),
  resourcesContainer: text({
    name: 'COSMOS_RESOURCES_CONTAINER',
    default: 'resources',
    meaning: 'Container of the FHIR resources the Cosmos DB source exports (partition key `/resourceType`).',
  }),
};

export const STORAGE = {
  accountUrl: url({
    name: 'EXPORT_STORAGE_ACCOUNT_URL',
    required: true,
    meaning:
      'Blob endpoint of the storage account for the export files, reached with Entra ID; not needed with `EXPORT_STORAGE_CONNECTION_STRING`.',
  }),
  connectionString: secret({
    name: 'EXPORT_STORAGE_CONNECTION_STRING',
    meaning:
      'Key-based connection string of that account (Azurite: `UseDevelopmentStorage=true`), used over the URL.',
  }),
  container: text({
    name: 'EXPORT_CONTAINER',
    default: 'fhir-export',
    meaning:
      "Blob container of a job's files when its kick-off names none (`_container`): 3–63 lowercase letters, digits and single hyphens.",
  }),
  allowedContainers: list({
    name: 'EXPORT_ALLOWED_CONTAINERS',
    meaning:
      'Other containers a kick-off may name with `_container`, comma-separated: names, or prefixes ending in `*` (`export-*`). Unset: only `EXPORT_CONTAINER`; any other name is a `400`, and `azure-webjobs-*` always is.',
  }),
  maxTries: integer({
    name: 'EXPORT_STORAGE_MAX_TRIES',
    default: 4,
    min: 1,
    max: 20,
    meaning: "Attempts per Blob Storage call, the first included (the storage SDK's own retries).",
  }),
};

export const SOURCE_KIND = choice({
  name: 'SOURCE_KIND',
  values: ['cosmos', 'fhir'],
  default: 'cosmos',
  meaning:
    'Where resources come from: the Cosmos DB resources container, or a FHIR R4 server (settings below, `docs/fhir-rest-source.md`).',
});

export const EXPORT = {
  resourcesPerPage: integer({
    name: 'EXPORT_RESOURCES_PER_PAGE',
    default: 2000,
    min: 1,
    max: 10_000,
    meaning:
      'Resources asked for per search page (one activity call); a source may cap it, many FHIR servers at 1,000.',
  }),
  pagesPerContinueAsNew: integer({
    name: 'EXPORT_PAGES_PER_CONTINUE_AS_NEW',
    default: 20,
    min: 1,
    max: 1000,
    meaning: 'Pages a unit orchestration runs before it continues as new, which keeps its history short.',
  }),
  fileRollBytes: integer({
    name: 'EXPORT_FILE_ROLL_BYTES',
    default: 64 * MIB,
    min: 1024,
    max: 4096 * MIB,
    bytes: true,
    meaning: 'An output file rolls over to its next part once it holds this many bytes.',
  }),
  typeParallelism: integer({
    name: 'EXPORT_TYPE_PARALLELISM',
    default: 4,
    min: 1,
    max: 64,
    meaning: 'Units (resource types, or time ranges of a split type) exported at once.',
  }),
  rangeSplitThreshold: integer({
    name: 'EXPORT_RANGE_SPLIT_THRESHOLD',
    default: 20_000,
    min: 1,
    max: 1_000_000_000,
    meaning:
      'A type the source counts above this is split into `_lastUpdated` ranges exported in parallel (`docs/architecture.md`).',
  }),
  maxRangesPerType: integer({
    name: 'EXPORT_MAX_RANGES_PER_TYPE',
    default: 4,
    min: 1,
    max: 64,
    meaning: 'Most ranges one type is split into, min(this, ⌈count / threshold⌉); `1` turns splitting off.',
  }),
  sourceReadAhead: onOff({
    name: 'EXPORT_SOURCE_READ_AHEAD',
    default: true,
    meaning:
      "Fetch each unit's next page while the current one is written, overlapping source and storage latency (`docs/performance.md`).",
  }),
  stageAhead: onOff({
    name: 'EXPORT_STAGE_AHEAD',
    default: true,
    meaning:
      "While a page checkpoints, upload the next page's block when it was read ahead (`docs/architecture.md`).",
  }),
  jobRecordMaxAgeMs: integer({
    name: 'EXPORT_JOB_RECORD_MAX_AGE_MS',
    default: 1000,
    min: 0,
    max: 60_000,
    meaning:
      "How old a running job's record may be when a page step uses it (a cancel still stops at the next checkpoint); `0` reads it for every page.",
  }),
  fileRetentionHours: integer({
    name: 'EXPORT_FILE_RETENTION_HOURS',
    default: 24,
    min: 1,
    max: 24 * 365,
    meaning:
      "How long an ended export's files are kept and a completed one's manifest answered (`Expires`); the sweeper then deletes them.",
  }),
  historyRetentionHours: integer({
    name: 'EXPORT_HISTORY_RETENTION_HOURS',
    default: 7 * 24,
    min: 1,
    max: 24 * 365,
    meaning:
      "How long an ended job's durable orchestration history and progress documents are kept (for diagnosis) before the sweeper purges them.",
  }),
  jobRecordRetentionDays: integer({
    name: 'EXPORT_JOB_RECORD_RETENTION_DAYS',
    default: 90,
    min: 1,
    max: 3650,
    meaning:
      "How long an ended job's record stays in Cosmos DB (its `ttl`, counted from its last write; the jobs container has TTL on).",
  }),
  fileAccess: choice({
    name: 'EXPORT_FILE_ACCESS',
    values: ['download', 'sas'],
    default: 'download',
    meaning:
      '`download` serves the files through the API (`requiresAccessToken: true`); `sas` hands out short-lived SAS URLs, signed with a user delegation key (needs `EXPORT_STORAGE_ACCOUNT_URL`; a connection string only for an emulator on loopback).',
  }),
  sasLifetimeMinutes: integer({
    name: 'EXPORT_SAS_LIFETIME_MINUTES',
    default: 60,
    min: 1,
    max: 7 * 24 * 60,
    meaning: "Lifetime of the SAS URLs in `sas` mode; a link never outlives its job's `Expires`.",
  }),
  pollRetryAfterSeconds: integer({
    name: 'EXPORT_POLL_RETRY_AFTER_SECONDS',
    default: 5,
    min: 1,
    max: 3600,
    meaning:
      '`Retry-After` of a `202` status answer: how long a client is told to wait before its next poll.',
  }),
  manifestPageFiles: integer({
    name: 'EXPORT_MANIFEST_PAGE_FILES',
    default: 1000,
    min: 1,
    max: 10_000,
    meaning:
      'Most files (`output`, `deleted` and `error` together) one manifest page lists when a client asks for `allowPartialManifests`; further files go to pages linked with `next`.',
  }),
};

export const RETRY = {
  maxAttempts: integer({
    name: 'EXPORT_RETRY_MAX_ATTEMPTS',
    default: 5,
    min: 1,
    max: 100,
    meaning: 'Attempts of one page on transient faults; when they run out the job fails with `503`.',
  }),
  firstRetryIntervalMs: integer({
    name: 'EXPORT_RETRY_FIRST_INTERVAL_MS',
    default: 2000,
    min: 1,
    max: 3_600_000,
    meaning: 'Wait before the first retry of a page.',
  }),
  backoffCoefficient: decimal({
    name: 'EXPORT_RETRY_BACKOFF',
    default: 2,
    min: 1,
    max: 10,
    meaning: 'Factor by which each further wait grows.',
  }),
  maxRetryIntervalMs: integer({
    name: 'EXPORT_RETRY_MAX_INTERVAL_MS',
    default: 60_000,
    min: 1,
    max: 86_400_000,
    meaning: 'Longest wait between two attempts of a page.',
  }),
  maxThrottleWaits: integer({
    name: 'EXPORT_MAX_THROTTLE_WAITS',
    default: 20,
    min: 0,
    max: 10_000,
    meaning:
      "Times in a row one unit may wait out a source's `429` with `Retry-After` (on a durable timer) before it fails.",
  }),
  maxThrottleWaitSeconds: integer({
    name: 'EXPORT_MAX_THROTTLE_WAIT_SECONDS',
    default: 300,
    min: 1,
    max: 86_400,
    meaning: 'Longest `Retry-After` honoured; a longer one is cut to this.',
  }),
  jobEndDeadlineMinutes: integer({
    name: 'EXPORT_JOB_END_DEADLINE_MINUTES',
    default: 24 * 60,
    min: 0,
    max: 30 * 24 * 60,
    meaning:
      "How long an orchestration keeps retrying the write of its job's end (Completed or Failed), in rounds of page retries; `0` gives up after the first round. After it, the status endpoint and the sweeper end the job.",
  }),
};

export const LIMITS = {
  maxActiveJobs: integer({
    name: 'EXPORT_MAX_ACTIVE_JOBS',
    default: 20,
    min: 1,
    max: 10_000,
    meaning:
      'Jobs that may be queued or running at once across all clients; beyond it a kick-off gets `429`.',
  }),
  maxActiveJobsPerClient: integer({
    name: 'EXPORT_MAX_ACTIVE_JOBS_PER_CLIENT',
    default: 5,
    min: 1,
    max: 10_000,
    meaning: 'Jobs one client may have queued or running at once; beyond it a kick-off gets `429`.',
  }),
  kickoffRatePerMinute: integer({
    name: 'EXPORT_KICKOFF_RATE_PER_MINUTE',
    default: 60,
    min: 0,
    max: 1_000_000,
    meaning:
      'Kick-offs one client may make per minute (token bucket, bursts of the same size); beyond it `429`, and `0` turns it off.',
  }),
  pollMinIntervalMs: integer({
    name: 'EXPORT_POLL_MIN_INTERVAL_MS',
    default: 1000,
    min: 0,
    max: 3_600_000,
    meaning:
      'Shortest time between two status polls of one job by one client; faster polls get `429`, and `0` turns it off.',
  }),
  maxRequestBodyBytes: integer({
    name: 'MAX_REQUEST_BODY_BYTES',
    default: MIB,
    min: 1024,
    max: 100 * MIB,
    bytes: true,
    meaning: 'Largest request body accepted (POST kick-off); a larger one gets `413`.',
  }),
};
