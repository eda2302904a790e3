/**
 * The job's life outside the page step: start (plan the units), complete (the manifest), fail,
 * cancel. Each write is etag-guarded and follows the status table; a cancel always wins.
 */
import { assertJobDestination, telemetryOf, type ExportDeps } from './exportDeps';
import { JobConflictError, NotFoundError } from './errors';
import { jobCancelled, jobCompleted, jobFailed, jobStarted } from './exportTelemetry';
import { classifyError } from './failureMapping';
import { assertTransition, isFinalStatus } from './jobLifecycle';
import type { ExportJobRecord, FailureDetails, ManifestOutputEntry, ProgressDocument } from './model';
import { isJobId } from './kickoff';
import { progressId } from './pageStep';
import { JOB_NOT_FOUND } from './statusReport';

export interface PlannedUnit {
  unitId: string;
  resourceType: string;
}

export type StartResult =
  | { outcome: 'started'; units: PlannedUnit[] }
  | { outcome: 'stopped' }
  | { outcome: 'failed'; failure: FailureDetails };

const MAX_CONFLICT_RETRIES = 5;

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

    // A retried start (after a crash) finds the job Running with its plan already made.
    const plan =
      job.status === 'Running' && job.plannedTypes
        ? { types: job.plannedTypes, scope: job.patientScope }
        : await makePlan(deps, job);
    for (const resourceType of plan.types)
      await deps.jobs.createProgress(newProgress(deps, jobId, resourceType));

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
        patientScope: plan.scope,
        startedAt: deps.now().toISOString(),
      };
    });
    if (!started || started.status !== 'Running') return { outcome: 'stopped' };
    // Only the execution that moved the job to Running reports it (not a retried start).
    if (transitioned) jobStarted(telemetryOf(deps), started);
    return { outcome: 'started', units: plan.types.map((t) => ({ unitId: t, resourceType: t })) };
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

function newProgress(deps: ExportDeps, jobId: string, resourceType: string): ProgressDocument {
  return {
    id: progressId(jobId, resourceType),
    jobId,
    docType: 'progress',
    unitId: resourceType,
    resourceType,
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

export function manifestOutput(progress: ProgressDocument[]): ManifestOutputEntry[] {
  return progress
    .flatMap((p) => p.files.filter((f) => f.count > 0).map((f) => ({ type: p.resourceType, ...f })))
    .sort((a, b) => a.type.localeCompare(b.type) || a.part - b.part)
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
