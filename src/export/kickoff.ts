/** Creating a job from a validated kick-off: limits, request reuse, the job record. */
import { randomUUID } from 'node:crypto';
import { telemetryOf, type ExportDeps } from './exportDeps';
import {
  BadRequestError,
  JobConflictError,
  NotFoundError,
  ServiceUnavailableError,
  TooManyRequestsError,
} from './errors';
import type { ParsedKickoff } from './kickoffRequest';
import { reportedWarnings } from './kickoffWarnings';
import { jobQueued } from './exportTelemetry';
import type { ExportConfig } from '../config';
import type { DestinationRef, ExportJobRecord, ExportRequest, OrchestrationSettings } from './model';
import { requestHash } from './requestHash';
import {
  loadAnonymizationConfig,
  newDeidConfigDocument,
  type LoadedConfiguration,
} from './anonymizationConfig';

export interface KickoffResult {
  job: ExportJobRecord;
  /** True when an identical running job was returned instead of a new one. */
  reused: boolean;
}

/** Job ids are random UUIDs (v4, from node:crypto); nothing else can name a job. */
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Whether `value` has the shape of a job id (checked before any store lookup). */
export function isJobId(value: string | undefined): value is string {
  return typeof value === 'string' && JOB_ID.test(value);
}

/** How long a client is asked to wait when the service is at its job limit. */
const BUSY_RETRY_AFTER_SECONDS = 60;

/** Takes the new job's slots of the client's and the service's caps, or answers 429. */
async function reserveSlots(deps: ExportDeps, jobId: string, clientId: string): Promise<void> {
  const verdict = await deps.jobs.reserveSlots(jobId, clientId, {
    perClient: deps.config.maxActiveJobsPerClient,
    total: deps.config.maxActiveJobs,
  });
  if (verdict === 'client-full') {
    throw new TooManyRequestsError(
      'Too many exports of this client are running; retry later.',
      BUSY_RETRY_AFTER_SECONDS,
    );
  }
  if (verdict === 'service-full') {
    throw new TooManyRequestsError('Too many exports are running; retry later.', BUSY_RETRY_AFTER_SECONDS);
  }
}

/**
 * Asks the source whether it can apply each `_typeFilter`. One it cannot is a 400, or under
 * `handling=lenient` dropped with a warning (the type is then exported unfiltered, as the IG allows).
 */
export function checkFiltersWithSource(deps: ExportDeps, kickoff: ParsedKickoff): void {
  const filters = kickoff.request.typeFilters;
  for (const type of Object.keys(filters)) {
    filters[type] = filters[type].filter((query) => {
      try {
        deps.source.checkTypeFilter(type, query);
        return true;
      } catch (error) {
        if (!(error instanceof BadRequestError) || !kickoff.lenient) throw error;
        kickoff.warnings.push(
          `Ignored _typeFilter for ${type} that this source cannot apply: ${error.message}`,
        );
        return false;
      }
    });
    if (filters[type].length === 0) delete filters[type];
  }
}

/**
 * Creates the job of a kick-off (or finds an identical running one). `checkedTypes` are the types the
 * caller's scopes were checked against, when they do not allow every type: the job keeps them.
 */
export async function createExportJob(
  deps: ExportDeps,
  kickoff: ParsedKickoff,
  clientId: string,
  checkedTypes?: string[],
): Promise<KickoffResult> {
  checkFiltersWithSource(deps, kickoff);
  // An unknown Group is refused at kick-off (404), so no job is made for it. Should it vanish later,
  // the job fails with 404 when it starts.
  if (kickoff.request.level === 'group') {
    const groupId = kickoff.request.groupId ?? '';
    if (!(await deps.source.read('Group', groupId)))
      throw new NotFoundError(`Group ${groupId} was not found.`);
  }
  // Read and checked before anything is created: a configuration error leaves no job behind.
  const anonymization = kickoff.request.anonymization;
  const deid = anonymization ? await loadAnonymizationConfig(deps, anonymization) : undefined;
  const hash = requestHash(kickoff.request, clientId, deid?.info.sha256);
  if (!kickoff.noCache) {
    const running = await deps.jobs.findActiveJobByHash(clientId, hash);
    if (running) return { job: running, reused: true };
  }
  const jobId = randomUUID();
  await reserveSlots(deps, jobId, clientId);
  const record = newJobRecord({
    jobId,
    now: deps.now(),
    request: kickoff.request,
    requestHash: hash,
    destination: {
      accountUrl: deps.destinationRef.accountUrl,
      container: kickoff.request.container ?? deps.destinationRef.container,
    },
    clientId,
    checkedTypes,
    orchestration: orchestrationSettingsOf(deps.config),
    warnings: reportedWarnings(kickoff.warnings),
    deidentification: deid?.info,
  });
  // Pinned before the record exists: no job can start without its configuration.
  if (deid) await pinConfiguration(deps, jobId, deid);
  const job = await createReservedJob(deps, record);
  jobQueued(telemetryOf(deps), job);
  return { job, reused: false };
}

/** Stores the configuration and keys the job runs with, in the job's partition. */
async function pinConfiguration(deps: ExportDeps, jobId: string, deid: LoadedConfiguration): Promise<void> {
  await deps.jobs.createDeidConfig(newDeidConfigDocument(jobId, deid, deps.now()));
}

/**
 * Creates the record of a job whose slots are reserved. A conflict means either that a retried
 * create already wrote it, or that the reservation outlived its grace and was voided, its slots
 * gone to other jobs. Any other failure keeps the slots: the job may exist, and the ledger checks
 * against the job records settle it later.
 */
async function createReservedJob(deps: ExportDeps, record: ExportJobRecord): Promise<ExportJobRecord> {
  try {
    return await deps.jobs.createJob(record);
  } catch (error) {
    if (!(error instanceof JobConflictError)) throw error;
    const existing = await deps.jobs.getJob(record.jobId);
    if (existing?.requestHash === record.requestHash && existing.clientId === record.clientId)
      return existing;
    // The job id is void for good: its pinned configuration and keys serve nothing.
    await deps.jobs.deleteDeidConfig(record.jobId);
    throw new ServiceUnavailableError('The export could not be created in time; retry.', 1);
  }
}

/** A new job record, Queued, whose transaction time is its creation time. */
export function newJobRecord(fields: {
  jobId: string;
  now: Date;
  request: ExportRequest;
  requestHash: string;
  destination: DestinationRef;
  clientId: string;
  checkedTypes?: string[];
  orchestration: OrchestrationSettings;
  warnings?: string[];
  deidentification?: ExportJobRecord['deidentification'];
}): ExportJobRecord {
  const now = fields.now.toISOString();
  return {
    id: fields.jobId,
    jobId: fields.jobId,
    docType: 'job',
    status: 'Queued',
    createdAt: now,
    transactionTime: now,
    request: fields.request,
    requestHash: fields.requestHash,
    destination: fields.destination,
    clientId: fields.clientId,
    ...(fields.checkedTypes ? { checkedTypes: fields.checkedTypes } : {}),
    orchestration: fields.orchestration,
    ...(fields.warnings && fields.warnings.length > 0 ? { warnings: fields.warnings } : {}),
    ...(fields.deidentification ? { deidentification: fields.deidentification } : {}),
  };
}

/** The settings of `config` that shape the orchestrations, copied so the job keeps them. */
export function orchestrationSettingsOf(config: ExportConfig): OrchestrationSettings {
  return {
    typeParallelism: config.typeParallelism,
    pagesPerContinueAsNew: config.pagesPerContinueAsNew,
    retry: { ...config.retry },
  };
}
