/**
 * The composition root: builds every adapter once per process from the configuration. The
 * Functions registrations in `functions/` get their collaborators from here and nowhere else.
 */
import { createAuthenticator, type Authenticator } from './auth';
import { loadConfig, type AppConfig } from './config';
import { BlobExportDestination, getBlobServiceClient } from './destination/blobExportDestination';
import type { ExportDestination } from './destination/exportDestination';
import type { ExportDeps } from './export/exportDeps';
import type { DestinationRef } from './export/model';
import { IntervalLimiter, TokenBucketLimiter } from './http/rateLimiter';
import { readBodyText } from './http/readBody';
import { getCosmosClient } from './jobs/cosmosClient';
import { createCosmosJobStore } from './jobs/cosmosJobStore';
import {
  COSMOS_COMPARTMENT_TYPES,
  createCosmosSearchSource,
  type CosmosSearchSource,
} from './sources/cosmosSource';
import { createFhirRestSource, type FhirRestSource } from './sources/fhirRestSource';
import { deletionSourceOf } from './sources/deletionSources';
import { ReadAheadSource } from './sources/readAheadSource';
import { StageAhead } from './export/stageAhead';
import { DeidentifierCache } from './export/deidentifierCache';
import { deidEngine } from './deid';
import { ProgressCache } from './export/progressCache';
import { RunningJobCache } from './export/runningJobCache';
import { PATIENT_COMPARTMENT_TYPES } from './sources/patientCompartment';
import type { SearchSource } from './sources/searchSource';
import { createTelemetry, type Telemetry } from './telemetry';

export interface Services {
  config: AppConfig;
  exportDeps: ExportDeps;
  authenticator: Authenticator;
  /** Minimum interval between status polls of one job by one client. */
  pollLimiter: IntervalLimiter;
  /** Kick-offs per client per minute (EXPORT_KICKOFF_RATE_PER_MINUTE). */
  kickoffLimiter: TokenBucketLimiter;
  /** Reads a request body within the configured size limit. */
  readBody(request: {
    headers: { get(name: string): string | null };
    body: ReadableStream<Uint8Array> | null;
  }): Promise<string>;
}

/** Units whose progress one process keeps in memory: far more than it runs at once. */
const PROGRESS_CACHE_UNITS = 1024;

let services: Promise<Services> | undefined;
let overrides: Partial<Pick<ExportDeps, 'probe'>> = {};

/** Hooks the local runtime sets before the first use (never set on Azure). */
export function setServiceOverrides(next: Partial<Pick<ExportDeps, 'probe'>>): void {
  overrides = next;
  services = undefined;
}

/** The process's services, built on first use. A failed build is retried on the next call. */
export function getServices(): Promise<Services> {
  if (!services) {
    services = buildServices(process.env);
    services.catch(() => (services = undefined));
  }
  return services;
}

// One telemetry client per process, kept across service rebuilds (the SDK's exporters are per client).
let telemetry: Promise<Telemetry> | undefined;

function getTelemetry(env: Record<string, string | undefined>): Promise<Telemetry> {
  telemetry ??= createTelemetry(env, (line) => console.log(line));
  return telemetry;
}

/** Sends buffered telemetry, if any was set up (process shutdown). */
export async function flushTelemetry(): Promise<void> {
  if (telemetry) await (await telemetry).flush();
}

async function buildServices(env: Record<string, string | undefined>): Promise<Services> {
  const config = loadConfig(env);
  const cosmos = getCosmosClient({ endpoint: config.cosmos.endpoint, key: config.cosmos.key });
  const jobs = await createCosmosJobStore({
    client: cosmos,
    databaseId: config.cosmos.database,
    containerId: config.cosmos.jobsContainer,
  });
  const baseSource: SearchSource & (FhirRestSource | CosmosSearchSource) = config.fhirSource
    ? createFhirRestSource(config.fhirSource)
    : await createCosmosSearchSource(cosmos, config.cosmos.database, config.cosmos.resourcesContainer);
  const deletions = deletionSourceOf(baseSource);
  // One read-ahead page per lane of every job that may run at once: a smaller cap would evict a
  // lane's page just before that lane asks for it, and the source would serve every page twice.
  const source = config.export.sourceReadAhead
    ? new ReadAheadSource(baseSource, {
        maxEntries: config.export.typeParallelism * config.export.maxActiveJobs,
      })
    : baseSource;

  const blobService = getBlobServiceClient({
    connectionString: config.storage.connectionString,
    accountUrl: config.storage.accountUrl,
    maxTries: config.storage.maxTries,
  });
  const destinationRef: DestinationRef = { accountUrl: blobService.url, container: config.storage.container };
  const destinations = new Map<string, ExportDestination>();
  const destinationFor = (ref: DestinationRef): ExportDestination => {
    let destination = destinations.get(ref.container);
    if (!destination) {
      destination = new BlobExportDestination(blobService, ref.container);
      destinations.set(ref.container, destination);
    }
    return destination;
  };

  return {
    config,
    exportDeps: {
      jobs,
      runningJobs: new RunningJobCache((jobId) => jobs.getJob(jobId), config.export.jobRecordMaxAgeMs),
      progressCache: new ProgressCache(PROGRESS_CACHE_UNITS),
      source,
      deletions,
      // One block under way per lane of every job that may run at once (it needs the read-ahead).
      ...(config.export.stageAhead && config.export.sourceReadAhead
        ? { stageAhead: new StageAhead(config.export.typeParallelism * config.export.maxActiveJobs) }
        : {}),
      config: config.export,
      destinationRef,
      destinationFor,
      deid: new DeidentifierCache(deidEngine, (jobId) => jobs.getDeidConfig(jobId)),
      // Patient and Group exports cover the compartment types the source can restrict to patients.
      compartmentTypes: new Set(
        config.sourceKind === 'fhir' ? [...PATIENT_COMPARTMENT_TYPES, 'Patient'] : COSMOS_COMPARTMENT_TYPES,
      ),
      now: () => new Date(),
      telemetry: await getTelemetry(env),
      ...overrides,
    },
    authenticator: createAuthenticator(config.auth),
    pollLimiter: new IntervalLimiter(config.limits.pollMinIntervalMs, 'Status polled'),
    kickoffLimiter: new TokenBucketLimiter(config.limits.kickoffRatePerMinute, 'Exports started'),
    readBody: (request) => readBodyText(request, config.limits.maxRequestBodyBytes),
  };
}
