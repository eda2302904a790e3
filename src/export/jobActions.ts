/**
 * The job's life outside the page step: start (plan the units), complete (the manifest), fail,
 * cancel. Each write is etag-guarded and follows the status table; a cancel always wins.
 */
import { blockId } from '../destination/blockIds';
import { mapWithConcurrency } from '../util/concurrency';
import { assertJobDestination, telemetryOf, type ExportDeps } from './exportDeps';
import { DestinationConnectionError, JobConflictError, NotFoundError } from './errors';
import { jobCancelled, jobCompleted, jobFailed, jobStarted } from './exportTelemetry';
import { classifyError, during, OPERATIONS } from './failureMapping';
import { assertTransition, isActiveStatus, isExpired, isFinalStatus } from './jobLifecycle';
import type {
  ExportJobRecord,
  FailureDetails,
  JobStatus,
  ManifestOutputEntry,
  PlannedUnit,
  ProgressDocument,
} from './model';
import { assertCanCancel, type JobCaller } from './jobAccess';
import { isJobId } from './kickoff';
import { progressDocumentId } from './model';
import { ndjsonBuffer } from './ndjson';
import { deidSkipOutcomes } from './deidPage';
import { makePlan, planUnits } from './jobPlan';
import { organizedUnit } from './organizedOutput';
import { manifestDeleted, planDeletions } from './deletions';
import { operationOutcome } from './operationOutcome';
import { JOB_NOT_FOUND } from './statusReport';

/**
 * The `error` file of a manifest: what lenient handling ignored at kick-off, and the resources a
 * de-identified export wrote as redacted stubs (`processingErrors: skip`).
 */
export const WARNINGS_FILE = 'OperationOutcome-warnings.ndjson';

export type StartResult =
  | { outcome: 'started'; units: PlannedUnit[] }
  | { outcome: 'stopped' }
  /** The source asked for a wait (Retry-After) while the job was planned: start again after it. */
  | { outcome: 'throttled'; retryAfterSeconds: number }
  | { outcome: 'failed'; failure: FailureDetails };

const MAX_CONFLICT_RETRIES = 5;
/** Progress documents created at once when a job starts (one per unit). */
const PROGRESS_CREATE_CONCURRENCY = 8;

/** Applies `change` to the freshest job record, retrying on etag conflicts; undefined if the job is gone. */
async function updateJob(
  deps: ExportDeps,
  jobId: string,
  change: (job: ExportJobRecord) => ExportJobRecord | undefined,
): Promise<ExportJobRecord | undefined> {
  for (let attempt = 0; ; attempt++) {
    const job = await during(OPERATIONS.readJob, deps.jobs.getJob(jobId));
    if (!job) return undefined;
    const updated = change(job);
    if (!updated) return job;
    try {
      return await during(OPERATIONS.updateJob, deps.jobs.replaceJob(updated));
    } catch (error) {
      if (!(error instanceof JobConflictError) || attempt >= MAX_CONFLICT_RETRIES) throw error;
    }
  }
}

/**
 * Gives back the slots of a job that has ended. Called on every path that sees the job ended, so a
 * retried activity releases what a crash left held; a release lost altogether is caught by the
 * ledger checks when a cap fills up.
 */
async function releaseIfEnded(deps: ExportDeps, job: ExportJobRecord | undefined): Promise<void> {
  if (job && isFinalStatus(job.status))
    await during(OPERATIONS.releaseSlots, deps.jobs.releaseSlots(job.jobId, job.clientId));
}

export async function startJob(deps: ExportDeps, jobId: string): Promise<StartResult> {
  try {
    const job = await during(OPERATIONS.readJob, deps.jobs.getJob(jobId));
    if (!job || isFinalStatus(job.status)) return { outcome: 'stopped' };
    assertJobDestination(deps, job.destination);
    await during(OPERATIONS.prepareContainer, deps.destinationFor(job.destination).ensureReady());

    const units = job.plannedUnits ?? (await planJob(deps, job));
    if (!units) return { outcome: 'stopped' };
    // Each create is idempotent (an existing document is kept), so they may go out together.
    await mapWithConcurrency(units, PROGRESS_CREATE_CONCURRENCY, (unit) =>
      during(OPERATIONS.createProgress, deps.jobs.createProgress(newProgress(deps, jobId, unit))),
    );

    let transitioned = false;
    const started = await updateJob(deps, jobId, (current) => {
      transitioned = false;
      if (current.status === 'Running') return undefined;
      assertTransition(current.status, 'Running');
      transitioned = true;
      // `units` is the plan on the record (saved before the progress documents).
      return { ...current, status: 'Running', plannedUnits: units, startedAt: deps.now().toISOString() };
    });
    if (!started || started.status !== 'Running') return { outcome: 'stopped' };
    // Only the execution that moved the job to Running reports it (not a retried start).
    if (transitioned) jobStarted(telemetryOf(deps), started);
    return { outcome: 'started', units };
  } catch (error) {
    const verdict = classifyError(error, { operation: OPERATIONS.startJob });
    if (verdict.kind === 'permanent') return { outcome: 'failed', failure: verdict.failure };
    // The orchestrator waits this out on a durable timer; the activity's own retries would not.
    if (verdict.kind === 'throttled')
      return { outcome: 'throttled', retryAfterSeconds: verdict.retryAfterSeconds };
    throw error;
  }
}

/**
 * Plans the job's units and saves them on the record before any progress document exists: a retried
 * start (after a crash) finds them and creates exactly the same units, even if the source changed
 * meanwhile. Undefined when the job ended first.
 */
async function planJob(deps: ExportDeps, job: ExportJobRecord): Promise<PlannedUnit[] | undefined> {
  const plan = await during(OPERATIONS.plan, makePlan(deps, job));
  const units = job.request.organizeOutputBy
    ? [organizedUnit(plan.types)]
    : await during(OPERATIONS.plan, planUnits(deps, job, plan));
  const deletions = await during(OPERATIONS.plan, planDeletions(deps, job, plan.types));
  const warnings = [...(job.warnings ?? []), ...deletions.notices];
  const saved = await updateJob(deps, job.jobId, (current) =>
    current.plannedUnits || isFinalStatus(current.status)
      ? undefined
      : {
          ...current,
          plannedUnits: [...units, ...deletions.units],
          patientScope: plan.scope,
          ...(warnings.length > 0 ? { warnings } : {}),
        },
  );
  return saved && !isFinalStatus(saved.status) ? saved.plannedUnits : undefined;
}

function newProgress(deps: ExportDeps, jobId: string, unit: PlannedUnit): ProgressDocument {
  return {
    id: progressDocumentId(jobId, unit.unitId),
    jobId,
    docType: 'progress',
    unitId: unit.unitId,
    resourceType: unit.resourceType,
    ...(unit.rangeIndex !== undefined ? { rangeIndex: unit.rangeIndex } : {}),
    ...(unit.rangeStart !== undefined ? { rangeStart: unit.rangeStart } : {}),
    ...(unit.rangeEnd !== undefined ? { rangeEnd: unit.rangeEnd } : {}),
    ...(unit.kind !== undefined ? { kind: unit.kind } : {}),
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
  if (!running || running.status !== 'Running') {
    await releaseIfEnded(deps, running);
    return { outcome: 'stopped' };
  }
  const errorFiles = await writeWarnings(deps, running, progress);
  const now = deps.now();
  let transitioned = false;
  const job = await updateJob(deps, jobId, (current) => {
    transitioned = false;
    if (current.status !== 'Running') return undefined;
    transitioned = true;
    return {
      ...current,
      status: 'Completed',
      ...endOfJob(deps, now),
      output: manifestOutput(progress),
      ...(current.request.since !== undefined ? { deleted: manifestDeleted(progress) } : {}),
      errorFiles,
    };
  });
  await releaseIfEnded(deps, job);
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

/**
 * The kick-off's lenient-handling warnings and the units' de-identification skips as an
 * OperationOutcome NDJSON file (the manifest's `error` array, as the IG asks). One block with a fixed
 * id, committed only as a new blob: a completion retried after a crash finds the file already holding
 * exactly that block and keeps it, each line once.
 */
async function writeWarnings(
  deps: ExportDeps,
  job: ExportJobRecord,
  progress: ProgressDocument[],
): Promise<ManifestOutputEntry[]> {
  const lines = [
    ...(job.warnings ?? []).map((diagnostics) =>
      JSON.stringify(operationOutcome(diagnostics, 'not-supported', 'warning')),
    ),
    ...deidSkipOutcomes(progress).map((outcome) => JSON.stringify(outcome)),
  ];
  if (lines.length === 0) return [];
  const data = ndjsonBuffer(lines);
  const blobName = `${job.jobId}/${WARNINGS_FILE}`;
  const destination = deps.destinationFor(job.destination);
  const id = blockId(job.jobId, 'OperationOutcome', 1, 0);
  await destination.stageBlock(blobName, id, data);
  await destination.commitBlocks(blobName, [id], 'new');
  return [{ type: 'OperationOutcome', blobName, count: lines.length, bytes: data.length }];
}

/** Every non-empty file, sorted by type, then range, then part. */
export function manifestOutput(progress: ProgressDocument[]): ManifestOutputEntry[] {
  return progress
    .filter((p) => !p.kind)
    .flatMap((p) =>
      p.files
        .filter((f) => f.count > 0)
        .map((f) => ({ type: p.resourceType, range: p.rangeIndex ?? 0, ...f })),
    )
    .sort((a, b) => a.type.localeCompare(b.type) || a.range - b.range || a.part - b.part)
    .map((f) => ({
      type: f.type,
      blobName: f.blobName,
      count: f.count,
      bytes: f.bytes,
      ...(f.continuesIn ? { continuesIn: f.continuesIn } : {}),
    }));
}

/** Marks the job Failed with its reason, unless it already ended (a cancel is never overwritten). */
export async function failJob(deps: ExportDeps, jobId: string, failure: FailureDetails): Promise<void> {
  let transitioned = false;
  const job = await updateJob(deps, jobId, (current) => {
    transitioned = false;
    if (isFinalStatus(current.status)) return undefined;
    transitioned = true;
    return { ...current, status: 'Failed', failureDetails: failure, ...endOfJob(deps, deps.now()) };
  });
  await releaseIfEnded(deps, job);
  if (job && transitioned) {
    const telemetry = telemetryOf(deps);
    jobFailed(telemetry, job, failure);
    await telemetry.flush();
  }
}

/**
 * Cancels a job the client owns (or deletes a finished one), if the caller's scopes allow every type
 * of it (see jobAccess.ts): marks it Cancelled first, so that every late page stops, then lets the
 * caller stop the orchestrations (only of a job that was still Queued or Running: a finished job has
 * none left), then deletes the files.
 */
/** What a cancel did with the job's files: deleted them, or left them to the sweeper. */
export type CancelledFiles = 'deleted' | 'pending';

export async function cancelJob(
  deps: ExportDeps,
  jobId: string,
  caller: JobCaller,
  stopOrchestrations: (job: ExportJobRecord) => Promise<void>,
): Promise<CancelledFiles> {
  let cancelled: ExportJobRecord | undefined;
  let previousStatus: JobStatus = 'Cancelled';
  if (!isJobId(jobId)) throw new NotFoundError(JOB_NOT_FOUND);
  await updateJob(deps, jobId, (current) => {
    cancelled = undefined;
    // An expired export is gone for its client, as the status endpoint says.
    if (
      current.clientId !== caller.clientId ||
      current.status === 'Cancelled' ||
      isExpired(current, deps.now())
    )
      return undefined;
    // Only the owner learns that its token's scopes fall short (403); others get the 404 below.
    assertCanCancel(caller.scopes, current);
    assertTransition(current.status, 'Cancelled');
    previousStatus = current.status;
    const { completedAt, ttl } = endOfJob(deps, deps.now());
    cancelled = { ...current, status: 'Cancelled', completedAt, ttl };
    return cancelled;
  });
  // Another client's job answers exactly like a job that does not exist.
  if (!cancelled) throw new NotFoundError(JOB_NOT_FOUND);
  await releaseIfEnded(deps, cancelled);
  const telemetry = telemetryOf(deps);
  jobCancelled(telemetry, cancelled, previousStatus);
  if (isActiveStatus(previousStatus)) await stopOrchestrations(cancelled);
  let files: CancelledFiles = 'deleted';
  try {
    await deleteJobFiles(deps, cancelled);
  } catch (error) {
    if (!(error instanceof DestinationConnectionError && error.unreachable)) throw error;
    // The cancel stands: the sweeper deletes the files of a cancelled job whose deletion is not recorded.
    files = 'pending';
  }
  await telemetry.flush();
  return files;
}

/**
 * The fields every end of a job sets: when it ended, when its files expire, and how long Cosmos DB
 * keeps the record.
 */
function endOfJob(deps: ExportDeps, now: Date): Pick<ExportJobRecord, 'completedAt' | 'expiresAt' | 'ttl'> {
  return {
    completedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + deps.config.fileRetentionHours * 3600_000).toISOString(),
    ttl: deps.config.jobRecordRetentionDays * 86_400,
  };
}

/**
 * Deletes an ended job's files and records that it did. A cancel interrupted before this point
 * leaves `filesDeletedAt` unset, which the sweeper finds and finishes; it also deletes the files of
 * jobs past `expiresAt`.
 */
export async function deleteJobFiles(deps: ExportDeps, job: ExportJobRecord): Promise<void> {
  await deps.destinationFor(job.destination).deletePrefix(`${job.jobId}/`);
  await updateJob(deps, job.jobId, (current) =>
    isFinalStatus(current.status) && !current.filesDeletedAt
      ? { ...current, filesDeletedAt: deps.now().toISOString() }
      : undefined,
  );
}

/** Records that an ended job's durable history and progress documents are purged. */
export async function markHistoryPurged(deps: ExportDeps, jobId: string): Promise<void> {
  await updateJob(deps, jobId, (current) =>
    isFinalStatus(current.status) && !current.historyPurgedAt
      ? { ...current, historyPurgedAt: deps.now().toISOString() }
      : undefined,
  );
}
