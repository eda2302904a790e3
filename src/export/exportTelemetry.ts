/**
 * The export's telemetry vocabulary: which events and metrics exist and exactly which fields they
 * carry. Every item is built here from an explicit allow-list, so a privacy review reads one file.
 *
 * Allowed: the job id (also the operation id), export level, resource TYPE names, counts, bytes,
 * durations, status codes, and failure reasons scrubbed of identifiers.
 * Never: resource content, resource or patient ids, the Group id (it names a cohort that a client
 * chose and may encode who is in it), `_typeFilter` / `patient` / `_elements` values, the kick-off
 * URL, the client id. Those stay in the job record, which the job id leads to.
 */
import { clip } from '../util/clientText';
import type { Telemetry, TelemetryMeasurements, TelemetryProperties } from '../telemetry';
import { plannedTypes, type ExportJobRecord, type FailureDetails, type ManifestOutputEntry } from './model';

export const TelemetryEvents = {
  queued: 'ExportJobQueued',
  started: 'ExportJobStarted',
  pageWritten: 'ExportPageWritten',
  completed: 'ExportJobCompleted',
  failed: 'ExportJobFailed',
  cancelled: 'ExportJobCancelled',
} as const;

export const TelemetryMetrics = {
  resourcesPerSecond: 'ExportResourcesPerSecond',
  pageLatencyMs: 'ExportPageLatencyMs',
} as const;

const MAX_REASON_LENGTH = 300;

/** Properties every job event carries: what kind of export, never which data. */
function jobProperties(job: ExportJobRecord): TelemetryProperties {
  const { request } = job;
  return {
    jobId: job.jobId,
    level: request.level,
    status: job.status,
    requestedTypes: request.types.length > 0 ? [...request.types].sort().join(',') : '*',
    ...(job.plannedUnits ? { plannedTypes: plannedTypes(job).join(',') } : {}),
    hasSince: String(request.since !== undefined),
    hasTypeFilter: String(Object.keys(request.typeFilters).length > 0),
    hasElements: String(request.elements.length > 0),
  };
}

function jobMeasurements(job: ExportJobRecord): TelemetryMeasurements {
  const filters = Object.values(job.request.typeFilters).reduce((n, list) => n + list.length, 0);
  return {
    requestedTypeCount: job.request.types.length,
    typeFilterCount: filters,
    patientFilterCount: job.request.patients.length,
    ...(job.patientScope ? { patientScopeCount: job.patientScope.length } : {}),
  };
}

function elapsedMs(from: string | undefined, to: string | undefined): number | undefined {
  if (!from || !to) return undefined;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

function defined(values: Record<string, number | undefined>): TelemetryMeasurements {
  return Object.fromEntries(
    Object.entries(values).filter((e): e is [string, number] => e[1] !== undefined && Number.isFinite(e[1])),
  );
}

function emit(
  telemetry: Telemetry,
  name: string,
  job: ExportJobRecord,
  extra: TelemetryProperties,
  measurements: TelemetryMeasurements,
) {
  telemetry.trackEvent(
    name,
    { ...jobProperties(job), ...extra },
    { ...jobMeasurements(job), ...measurements },
    {
      operationId: job.jobId,
    },
  );
}

export function jobQueued(telemetry: Telemetry, job: ExportJobRecord): void {
  emit(telemetry, TelemetryEvents.queued, job, {}, {});
}

export function jobStarted(telemetry: Telemetry, job: ExportJobRecord): void {
  emit(
    telemetry,
    TelemetryEvents.started,
    job,
    {},
    defined({
      queuedMs: elapsedMs(job.createdAt, job.startedAt),
      // How many units the plan made (types plus extra time ranges); a count, not a dimension.
      plannedUnitCount: job.plannedUnits?.length,
    }),
  );
}

export interface PageFacts {
  jobId: string;
  resourceType: string;
  /** 0-based page number within the type. */
  page: number;
  resources: number;
  bytes: number;
  filePart?: number;
  latencyMs: number;
  searchMs: number;
  done: boolean;
  /** The page's block was uploaded ahead, while the page before it checkpointed (stageAhead.ts). */
  stagedAhead: boolean;
}

/** One page checkpointed: an event (for per-page queries) and the two per-page metrics. */
export function pageWritten(telemetry: Telemetry, facts: PageFacts): void {
  const perSecond = facts.latencyMs > 0 ? (facts.resources * 1000) / facts.latencyMs : undefined;
  telemetry.trackEvent(
    TelemetryEvents.pageWritten,
    {
      jobId: facts.jobId,
      resourceType: facts.resourceType,
      lastPage: String(facts.done),
      stagedAhead: String(facts.stagedAhead),
    },
    defined({
      page: facts.page,
      resources: facts.resources,
      bytes: facts.bytes,
      filePart: facts.filePart,
      latencyMs: facts.latencyMs,
      searchMs: facts.searchMs,
      resourcesPerSecond: perSecond,
    }),
    { operationId: facts.jobId },
  );
  // Metric dimensions stay bounded (resource types), so no job id here; per-job numbers are in events.
  const dimensions = { resourceType: facts.resourceType };
  telemetry.trackMetric(TelemetryMetrics.pageLatencyMs, facts.latencyMs, dimensions);
  if (perSecond !== undefined)
    telemetry.trackMetric(TelemetryMetrics.resourcesPerSecond, perSecond, dimensions);
}

export function jobCompleted(
  telemetry: Telemetry,
  job: ExportJobRecord,
  output: ManifestOutputEntry[],
  pages: number,
): void {
  const counts: Record<string, number> = {};
  for (const entry of output) counts[entry.type] = (counts[entry.type] ?? 0) + entry.count;
  const resources = output.reduce((n, o) => n + o.count, 0);
  const runMs = elapsedMs(job.startedAt, job.completedAt);
  emit(
    telemetry,
    TelemetryEvents.completed,
    job,
    { resourceTypes: Object.keys(counts).sort().join(','), resourceCounts: JSON.stringify(counts) },
    defined({
      resources,
      bytes: output.reduce((n, o) => n + o.bytes, 0),
      files: output.length,
      outputTypeCount: Object.keys(counts).length,
      pages,
      durationMs: elapsedMs(job.createdAt, job.completedAt),
      runDurationMs: runMs,
      resourcesPerSecond: runMs ? (resources * 1000) / runMs : undefined,
    }),
  );
}

export function jobFailed(telemetry: Telemetry, job: ExportJobRecord, failure: FailureDetails): void {
  emit(
    telemetry,
    TelemetryEvents.failed,
    job,
    { failureReason: scrubReason(failure.reason, job), failureStatusCode: String(failure.statusCode) },
    defined({ statusCode: failure.statusCode, durationMs: elapsedMs(job.createdAt, job.completedAt) }),
  );
}

export function jobCancelled(telemetry: Telemetry, job: ExportJobRecord, previousStatus: string): void {
  emit(
    telemetry,
    TelemetryEvents.cancelled,
    job,
    { previousStatus },
    defined({ durationMs: elapsedMs(job.createdAt, job.completedAt) }),
  );
}

/**
 * A failure reason fit for telemetry. Reasons are written for the client and may quote what the
 * client or the source said: the job's Group id and patient references, `Type/id` references, URL
 * query strings and quoted values are replaced before the reason leaves the process.
 */
export function scrubReason(reason: string, job?: Pick<ExportJobRecord, 'request' | 'patientScope'>): string {
  let text = reason;
  const known = [
    job?.request.groupId,
    ...(job?.request.patients ?? []),
    ...(job?.patientScope ?? []),
    ...Object.values(job?.request.typeFilters ?? {}).flat(),
  ].filter((v): v is string => typeof v === 'string' && v.length > 0);
  for (const value of known.sort((a, b) => b.length - a.length)) text = text.split(value).join('[redacted]');
  text = text
    .replace(/\?[^\s"']*/g, '?[redacted]')
    .replace(/\b([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}\b/g, '$1/[redacted]')
    .replace(/"[^"]*"|'[^']*'/g, '"[redacted]"')
    .replace(/\bGroup \S+ was not found/g, 'Group [redacted] was not found');
  return clip(text, MAX_REASON_LENGTH);
}
