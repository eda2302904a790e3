/**
 * The job's life outside the page step: start (plan the units), complete (the manifest), fail,
 * cancel. Each write is etag-guarded and follows the status table; a cancel always wins.
 */
import { blockId } from '../destination/blockIds';
import { assertJobDestination, telemetryOf, type ExportDeps } from './exportDeps';
import { JobConflictError, NotFoundError } from './errors';
import { jobCancelled, jobCompleted, jobFailed, jobStarted } from './exportTelemetry';
import { classifyError } from './failureMapping';
import { assertTransition, isFinalStatus } from './jobLifecycle';
import type {
  ExportJobRecord,
  FailureDetails,
  ManifestOutputEntry,
  PlannedUnit,
  ProgressDocument,
} from './model';
import { isJobId } from './kickoff';
import { progressId, searchUntil } from './pageStep';
import { planRanges, rangeUnitId } from './rangePlan';
import { operationOutcome } from './operationOutcome';
import { JOB_NOT_FOUND } from './statusReport';

/** The `error` file of a manifest: what lenient handling ignored at kick-off. */
export const WARNINGS_FILE = 'OperationOutcome-warnings.ndjson';

export type { PlannedUnit };

export type StartResult =
  | { outcome: 'started'; units: PlannedUnit[] }
  | { outcome: 'stopped' }
  | { outcome: 'failed'; failure: FailureDetails };

const MAX_CONFLICT_RETRIES = 5;
/** Types described at once while planning. */
const DESCRIBE_CONCURRENCY = 4;

/** `map` with at most `limit` calls in flight; results keep the input order. */
async function mapWithConcurrency<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Applies `change` to the freshest job record, retrying on etag conflicts; undefined if the job is gone. */
async function updateJob(
  deps: ExportDeps,
  jobId: string,
  change: (job: ExportJobRecord) => ExportJobRecord | undefined,
): Promise<ExportJobRecord | undefined> {
  for (let attempt = 0; ; attempt++) {
    const job = await deps.jobs.getJob(jobId);
    if (!job) return undefined;
    const updated = change(job);
    if (!updated) return job;
    try {
      return await deps.jobs.replaceJob(updated);
    } catch (error) {
      if (!(error instanceof JobConflictError) || attempt >= MAX_CONFLICT_RETRIES) throw error;
    }
  }
}

export async function startJob(deps: ExportDeps, jobId: string): Promise<StartResult> {
  try {
    const job = await deps.jobs.getJob(jobId);
    if (!job || isFinalStatus(job.status)) return { outcome: 'stopped' };
    assertJobDestination(deps, job.destination);
    await deps.destinationFor(job.destination).ensureReady();

    // The plan is saved on the job before any progress document exists: a retried start (after a
    // crash) finds it and creates exactly the same units, even if the source changed meanwhile.
    let planned = job.plannedUnits
      ? { units: job.plannedUnits, types: job.plannedTypes ?? [], scope: job.patientScope }
      : job.status === 'Running' && job.plannedTypes
        ? { units: legacyUnits(job.plannedTypes), types: job.plannedTypes, scope: job.patientScope }
        : undefined;
    if (!planned) {
      const plan = await makePlan(deps, job);
      const units = await planUnits(deps, job, plan);
      const saved = await updateJob(deps, jobId, (current) =>
        current.plannedUnits || isFinalStatus(current.status)
          ? undefined
          : { ...current, plannedTypes: plan.types, plannedUnits: units, patientScope: plan.scope },
      );
      if (!saved || isFinalStatus(saved.status) || !saved.plannedUnits) return { outcome: 'stopped' };
      planned = { units: saved.plannedUnits, types: saved.plannedTypes ?? [], scope: saved.patientScope };
    }
    const plan = planned;
    for (const unit of plan.units) await deps.jobs.createProgress(newProgress(deps, jobId, unit));

    let transitioned = false;
    const started = await updateJob(deps, jobId, (current) => {
      transitioned = false;
      if (current.status === 'Running') return undefined;
      assertTransition(current.status, 'Running');
      transitioned = true;
      return {
        ...current,
        status: 'Running',
        plannedTypes: plan.types,
        plannedUnits: plan.units,
        patientScope: plan.scope,
        startedAt: deps.now().toISOString(),
      };
    });
    if (!started || started.status !== 'Running') return { outcome: 'stopped' };
    // Only the execution that moved the job to Running reports it (not a retried start).
    if (transitioned) jobStarted(telemetryOf(deps), started);
    return { outcome: 'started', units: plan.units };
  } catch (error) {
    const verdict = classifyError(error);
    if (verdict.kind === 'permanent') return { outcome: 'failed', failure: verdict.failure };
    throw error;
  }
}

async function makePlan(
  deps: ExportDeps,
  job: ExportJobRecord,
): Promise<{ types: string[]; scope?: string[] }> {
  const { request } = job;
  let types = request.types.length > 0 ? request.types : await deps.source.listResourceTypes();
  if (request.level !== 'system') types = types.filter((t) => deps.compartmentTypes.has(t));
  types = [...new Set(types)].sort();

  if (request.level === 'group') {
    const members = await groupMembers(deps, request.groupId ?? '', job.transactionTime);
    const scope = request.patients.length > 0 ? members.filter((m) => request.patients.includes(m)) : members;
    return { types, scope };
  }
  if (request.level === 'patient' && request.patients.length > 0) return { types, scope: request.patients };
  return { types };
}

/** The ids of every unit a job planned (its durable sub-orchestrations are named after them). */
export function plannedUnitIds(job: ExportJobRecord): string[] {
  return (job.plannedUnits ?? legacyUnits(job.plannedTypes ?? [])).map((u) => u.unitId);
}

/** One unit per type, as jobs planned before ranges existed have them. */
function legacyUnits(types: string[]): PlannedUnit[] {
  return types.map((t) => ({ unitId: t, resourceType: t }));
}

/**
 * The units of a job: each type on its own, or, when the source says it holds more than the split
 * threshold, one unit per time range (see rangePlan.ts). Sorted by estimated size, largest first,
 * so that the lanes start with the biggest units and a split type's ranges land in different lanes.
 */
async function planUnits(
  deps: ExportDeps,
  job: ExportJobRecord,
  plan: { types: string[]; scope?: string[] },
): Promise<PlannedUnit[]> {
  const settings = { threshold: deps.config.rangeSplitThreshold, maxRanges: deps.config.maxRangesPerType };
  const describe = deps.source.describe?.bind(deps.source);
  const canSplit =
    describe !== undefined && settings.maxRanges > 1 && !(plan.scope && plan.scope.length === 0);
  const until = searchUntil(job);
  const describeType = (resourceType: string) =>
    describe && canSplit
      ? describe(
          resourceType,
          {
            since: job.request.since,
            until,
            typeFilters: job.request.typeFilters[resourceType] ?? [],
            patients: plan.scope,
            patientCompartmentOnly: job.request.level !== 'system',
            count: deps.config.resourcesPerPage,
          },
          settings.threshold,
        )
      : Promise.resolve(undefined);
  // A few types at a time: a source may list a hundred types, each one count request here.
  const descriptions = await mapWithConcurrency(plan.types, DESCRIBE_CONCURRENCY, describeType);
  const units: PlannedUnit[] = [];
  plan.types.forEach((resourceType, i) => {
    const description = descriptions[i];
    if (!description) {
      units.push({ unitId: resourceType, resourceType });
      return;
    }
    const estimate = description.total;
    const ranges = planRanges(description, until, settings);
    if (ranges.length === 0) {
      units.push({ unitId: resourceType, resourceType, ...(estimate !== undefined ? { estimate } : {}) });
      return;
    }
    for (const range of ranges) {
      units.push({
        unitId: rangeUnitId(resourceType, range.index),
        resourceType,
        rangeIndex: range.index,
        ...(range.start !== undefined ? { rangeStart: range.start } : {}),
        ...(range.end !== undefined ? { rangeEnd: range.end } : {}),
        ...(estimate !== undefined ? { estimate: Math.ceil(estimate / ranges.length) } : {}),
      });
    }
  });
  // Stable: equal estimates (or none) keep the type order, then the range order.
  return units
    .map((unit, order) => ({ unit, order }))
    .sort((a, b) => (b.unit.estimate ?? 0) - (a.unit.estimate ?? 0) || a.order - b.order)
    .map(({ unit }) => unit);
}

/** The Group's active members at the transaction time, as `Patient/{id}` references. */
async function groupMembers(deps: ExportDeps, groupId: string, transactionTime: string): Promise<string[]> {
  const group = await deps.source.read('Group', groupId);
  if (!group) throw new NotFoundError(`Group ${groupId} was not found.`);
  const at = Date.parse(transactionTime);
  const members = Array.isArray(group.member) ? (group.member as Array<Record<string, unknown>>) : [];
  const references: string[] = [];
  for (const member of members) {
    if (member.inactive === true) continue;
    const period = member.period as { start?: string; end?: string } | undefined;
    if (period?.start && Date.parse(period.start) > at) continue;
    if (period?.end && Date.parse(period.end) < at) continue;
    const reference = (member.entity as { reference?: unknown } | undefined)?.reference;
    if (typeof reference === 'string' && /^Patient\/[A-Za-z0-9\-.]{1,64}$/.test(reference))
      references.push(reference);
  }
  return [...new Set(references)];
}

function newProgress(deps: ExportDeps, jobId: string, unit: PlannedUnit): ProgressDocument {
  return {
    id: progressId(jobId, unit.unitId),
    jobId,
    docType: 'progress',
    unitId: unit.unitId,
    resourceType: unit.resourceType,
    ...(unit.rangeIndex !== undefined ? { rangeIndex: unit.rangeIndex } : {}),
    ...(unit.rangeStart !== undefined ? { rangeStart: unit.rangeStart } : {}),
    ...(unit.rangeEnd !== undefined ? { rangeEnd: unit.rangeEnd } : {}),
    page: 0,
    done: false,
    resourceCount: 0,
    bytes: 0,
    files: [],
    updatedAt: deps.now().toISOString(),
  };
}

/** Writes the manifest and marks the job Completed. A job that left Running meanwhile stays as it is. */
export async function completeJob(
  deps: ExportDeps,
  jobId: string,
): Promise<{ outcome: 'completed' | 'stopped' }> {
  const progress = await deps.jobs.listProgress(jobId);
  const unfinished = progress.filter((p) => !p.done);
  if (unfinished.length > 0) {
    return failJob(deps, jobId, {
      reason: 'Export ended with unfinished resource types.',
      statusCode: 500,
    }).then(() => ({
      outcome: 'stopped' as const,
    }));
  }
  const running = await deps.jobs.getJob(jobId);
  if (!running || running.status !== 'Running') return { outcome: 'stopped' };
  const errorFiles = await writeWarnings(deps, running);
  const now = deps.now();
  let transitioned = false;
  const job = await updateJob(deps, jobId, (current) => {
    transitioned = false;
    if (current.status !== 'Running') return undefined;
    transitioned = true;
    return {
      ...current,
      status: 'Completed',
      completedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + deps.config.fileRetentionHours * 3600_000).toISOString(),
      output: manifestOutput(progress),
      errorFiles,
    };
  });
  if (job?.status === 'Completed' && transitioned) {
    const telemetry = telemetryOf(deps);
    jobCompleted(
      telemetry,
      job,
      job.output ?? [],
      progress.reduce((n, p) => n + p.page, 0),
    );
    await telemetry.flush();
  }
  return { outcome: job?.status === 'Completed' ? 'completed' : 'stopped' };
}

/** Every non-empty file, sorted by type, then range, then part. */
/**
 * The kick-off's lenient-handling warnings as an OperationOutcome NDJSON file (the manifest's `error`
 * array, as the IG asks). Written with a fixed block id, so a retried completion writes the same file.
 */
async function writeWarnings(deps: ExportDeps, job: ExportJobRecord): Promise<ManifestOutputEntry[]> {
  const warnings = job.warnings ?? [];
  if (warnings.length === 0) return [];
  const lines = warnings.map((diagnostics) =>
    JSON.stringify(operationOutcome(diagnostics, 'not-supported', 'warning')),
  );
  const data = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
  const blobName = `${job.jobId}/${WARNINGS_FILE}`;
  const destination = deps.destinationFor(job.destination);
  const id = blockId(job.jobId, 'OperationOutcome', 1, 0);
  await destination.stageBlock(blobName, id, data);
  await destination.commitBlocks(blobName, [id]);
  return [{ type: 'OperationOutcome', blobName, count: lines.length, bytes: data.length }];
}

export function manifestOutput(progress: ProgressDocument[]): ManifestOutputEntry[] {
  return progress
    .flatMap((p) =>
      p.files
        .filter((f) => f.count > 0)
        .map((f) => ({ type: p.resourceType, range: p.rangeIndex ?? 0, ...f })),
    )
    .sort((a, b) => a.type.localeCompare(b.type) || a.range - b.range || a.part - b.part)
    .map((f) => ({ type: f.type, blobName: f.blobName, count: f.count, bytes: f.bytes }));
}

/** Marks the job Failed with its reason, unless it already ended (a cancel is never overwritten). */
export async function failJob(deps: ExportDeps, jobId: string, failure: FailureDetails): Promise<void> {
  let transitioned = false;
  const job = await updateJob(deps, jobId, (current) => {
    transitioned = false;
    if (isFinalStatus(current.status)) return undefined;
    transitioned = true;
    return { ...current, status: 'Failed', failureDetails: failure, completedAt: deps.now().toISOString() };
  });
  if (job && transitioned) {
    const telemetry = telemetryOf(deps);
    jobFailed(telemetry, job, failure);
    await telemetry.flush();
  }
}

/**
 * Cancels a job the client owns (or deletes a finished one): marks it Cancelled first, so that every
 * late page stops, then lets the caller stop the orchestrations, then deletes the files.
 */
export async function cancelJob(
  deps: ExportDeps,
  jobId: string,
  clientId: string,
  stopOrchestrations: (job: ExportJobRecord) => Promise<void>,
): Promise<void> {
  let cancelled: ExportJobRecord | undefined;
  let previousStatus = '';
  if (!isJobId(jobId)) throw new NotFoundError(JOB_NOT_FOUND);
  await updateJob(deps, jobId, (current) => {
    cancelled = undefined;
    if (current.clientId !== clientId || current.status === 'Cancelled') return undefined;
    assertTransition(current.status, 'Cancelled');
    previousStatus = current.status;
    cancelled = { ...current, status: 'Cancelled', completedAt: deps.now().toISOString() };
    return cancelled;
  });
  // Another client's job answers exactly like a job that does not exist.
  if (!cancelled) throw new NotFoundError(JOB_NOT_FOUND);
  const telemetry = telemetryOf(deps);
  jobCancelled(telemetry, cancelled, previousStatus);
  await stopOrchestrations(cancelled);
  await deps.destinationFor(cancelled.destination).deletePrefix(`${jobId}/`);
  await telemetry.flush();
}
