/**
 * One page of one unit: the exactly-once step of an export.
 *
 * load job + progress (etag) → search one page from the saved cursor → stage a block whose id derives
 * from (job, unit, part, page) → commit the file's block list → checkpoint with If-Match.
 * A retry after a crash anywhere repeats the same search from the same cursor and stages the same
 * block id, so the file holds each resource once. Only small summaries go back to the orchestrator.
 */
import { blockId as blockIdFor } from '../destination/blockIds';
import { StaleBlobError, type CommitBase, type ExportDestination } from '../destination/exportDestination';
import { lineText, type SearchPage, type SearchParameters } from '../sources/searchSource';
import type { Deidentifier } from '../deid/contract';
import { deidentifiedPageData } from './deidPage';
import { applyElements, elementsForType } from './elementsFilter';
import { JobConflictError } from './errors';
import { classifyError, during, OPERATIONS } from './failureMapping';
import { ndjsonBuffer } from './ndjson';
import { compareInstants } from './instant';
import { laterInstant } from './rangePlan';
import { unitPage } from './deletions';
import { isOrganizedUnit, organizedPage } from './organizedOutput';
import type { ExportJobRecord, FailureDetails, PlannedUnit, ProgressDocument, ProgressFile } from './model';

import { assertJobDestination, telemetryOf, type ExportDeps } from './exportDeps';
import { pageWritten } from './exportTelemetry';

export interface UnitTotals {
  resourceType: string;
  pages: number;
  resources: number;
}

export type PageStepResult =
  | ({ outcome: 'written'; done: boolean; pageResources: number } & UnitTotals)
  | { outcome: 'stopped' }
  | { outcome: 'throttled'; retryAfterSeconds: number }
  | { outcome: 'failed'; failure: FailureDetails };

/**
 * Blocks per file before it rolls over. Azure allows 50,000 per blob, but the current file's block
 * ids live in the progress document (about 60 bytes each), which must stay far below Cosmos DB's
 * 2 MB item limit.
 */
const MAX_BLOCKS_PER_FILE = 10_000;

/** Thrown for faults worth retrying; the orchestrator's retry policy takes it from here. */
export class TransientPageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransientPageError';
  }
}

/**
 * `Patient-1.ndjson`; a range of a split type adds its range: `Observation-r2-1.ndjson`; the type's
 * deletions: `Patient-deleted-1.ndjson`.
 */
export function fileName(resourceType: string, part: number, rangeIndex?: number, kind?: 'deleted'): string {
  if (kind) return `${resourceType}-${kind}-${part}.ndjson`;
  return rangeIndex === undefined
    ? `${resourceType}-${part}.ndjson`
    : `${resourceType}-r${rangeIndex}-${part}.ndjson`;
}

export function blobNameFor(
  jobId: string,
  resourceType: string,
  part: number,
  rangeIndex?: number,
  kind?: 'deleted',
): string {
  return `${jobId}/${fileName(resourceType, part, rangeIndex, kind)}`;
}

/**
 * One page of unit `unitId`. `nextUnit` is the unit its lane goes on with, if any: when this page
 * is the unit's last, the source is asked to fetch that unit's first page meanwhile.
 */
export async function runPageStep(
  deps: ExportDeps,
  jobId: string,
  unitId: string,
  nextUnit?: PlannedUnit,
): Promise<PageStepResult> {
  try {
    return await pageStep(deps, jobId, unitId, nextUnit);
  } catch (error) {
    deps.progressCache.forget(jobId, unitId);
    // A page that raced a cancel can find its progress or its blocks deleted: that is a stop, not a
    // failure of the job. When the job's state cannot be read, the error is judged as it is.
    const stopped = await stoppedMeanwhile(deps, jobId).catch(() => undefined);
    if (stopped) return stopped;
    const verdict = classifyError(error, { operation: OPERATIONS.exportPage });
    if (verdict.kind === 'transient') throw new TransientPageError(verdict.message);
    if (verdict.kind === 'throttled')
      return { outcome: 'throttled', retryAfterSeconds: verdict.retryAfterSeconds };
    return { outcome: 'failed', failure: verdict.failure };
  }
}

async function pageStep(
  deps: ExportDeps,
  jobId: string,
  unitId: string,
  nextUnit: PlannedUnit | undefined,
): Promise<PageStepResult> {
  const stepStart = performance.now();
  // Both usually come from this process's caches (runningJobCache.ts, progressCache.ts), else are read
  // at once. Safe however old either is: the commit below is conditional on the file's etag, and the
  // checkpoint on the progress etag and on the job running.
  const cached = deps.progressCache.get(jobId, unitId);
  const progressRead = cached
    ? Promise.resolve(cached)
    : during(OPERATIONS.readProgress, deps.jobs.getProgress(jobId, unitId));
  progressRead.catch(() => undefined);
  const job = await during(OPERATIONS.readJob, deps.runningJobs.get(jobId));
  if (!job || job.status !== 'Running') return { outcome: 'stopped' };
  // A resumed job writes only where it started writing, or fails.
  assertJobDestination(deps, job.destination);
  const destination = deps.destinationFor(job.destination);
  const deidentifier = job.deidentification ? await deidentifierFor(deps, jobId) : undefined;
  const progress = await progressRead;
  if (!progress) throw new Error(`Progress ${unitId} of job ${jobId} is missing`);
  if (progress.done) return written(progress, 0);
  // A Group without active members (or an empty patient list) has nothing to export.
  if (job.patientScope && job.patientScope.length === 0) {
    return checkpoint(
      deps,
      { ...progress, page: progress.page + 1, done: true, updatedAt: deps.now().toISOString() },
      0,
    );
  }

  if (isOrganizedUnit(progress)) return organizedPage(deps, job, progress, destination, ORGANIZED_PARTS);
  const searchStart = performance.now();
  const params = unitSearch(
    job,
    progress.resourceType,
    deps.config.resourcesPerPage,
    job.patientScope,
    progress,
  );
  const page = await during(OPERATIONS.search, unitPage(deps, job, progress, params));

  const searchMs = performance.now() - searchStart;
  if (page.nextToken === undefined && nextUnit && !nextUnit.kind) prefetchNextUnit(deps, job, nextUnit);
  deps.probe?.('searched', { jobId, unitId, page: progress.page });

  // A deletion unit writes Bundles that name deleted resources: neither `_elements` nor
  // de-identification applies to them.
  const keep = progress.kind ? [] : elementsForType(job.request.elements, progress.resourceType);
  const deidentifies = deidentifier !== undefined && !progress.kind;
  const { data, count, skipped } = deidentifies
    ? deidentifiedPageData(page, keep, deidentifier, progress.deidSkipped)
    : pageData(page, keep);
  const next: ProgressDocument = {
    ...progress,
    ...(skipped ? { deidSkipped: skipped } : {}),
    page: progress.page + 1,
    continuationToken: page.nextToken,
    done: page.nextToken === undefined,
    total: progress.total ?? page.total,
    updatedAt: deps.now().toISOString(),
    files: progress.files,
  };

  let stagedAhead = false;
  if (count > 0) {
    const file = currentFile(progress, jobId, data.length, deps.config.fileRollBytes);
    // The unit id (the type, or `Type.rN`) keeps the ids of parallel ranges of one type apart.
    const usual = blockIdFor(jobId, unitId, file.part, progress.page);
    const ahead = blockIdFor(jobId, unitId, file.part, progress.page, true);
    // Staged ahead by the previous page step with these very bytes (see stageAhead.ts), or now.
    stagedAhead = (await deps.stageAhead?.take(file.blobName, ahead, data)) === true;
    if (!stagedAhead) await during(OPERATIONS.writeBlock, destination.stageBlock(file.blobName, usual, data));
    const [blockId, otherId] = stagedAhead ? [ahead, usual] : [usual, ahead];
    // Stored: nothing reads the page any more, and the source may reuse its memory (not on a throw).
    page.release?.();
    deps.probe?.('staged', { jobId, unitId, page: progress.page });
    const blockIds = [...file.blockIds, blockId];
    // An execution of this page that died after its commit may have used the block's other id.
    const sameAs = [...file.blockIds, otherId];
    let etag: string;
    try {
      etag = await during(
        OPERATIONS.commitFile,
        destination.commitBlocks(file.blobName, blockIds, commitBase(file), sameAs),
      );
    } catch (error) {
      // The file moved on since this progress was read: this is a late duplicate of an earlier page.
      if (error instanceof StaleBlobError) return afterConflict(deps, jobId, unitId);
      throw error;
    }
    deps.probe?.('written', { jobId, unitId, page: progress.page });
    const updated: ProgressFile = {
      ...file,
      blockIds,
      etag,
      count: file.count + count,
      bytes: file.bytes + data.length,
    };
    // Only the current file's block list is ever committed again; closed files keep their totals.
    next.files = [
      ...progress.files
        .filter((f) => f.part !== file.part)
        .map((f) => ({ ...f, blockIds: [], etag: undefined })),
      updated,
    ];
    next.resourceCount = progress.resourceCount + count;
    next.bytes = progress.bytes + data.length;
    // A de-identified page's bytes are made by the page step, never the source's own block.
    if (!deidentifier) stageNextAhead(deps, destination, next, params, keep);
  } else {
    page.release?.();
  }

  // Reported only by the execution whose checkpoint succeeded, so a redelivered page counts once.
  const report = () =>
    pageWritten(telemetryOf(deps), {
      jobId,
      resourceType: progress.resourceType,
      page: progress.page,
      resources: count,
      bytes: next.bytes - progress.bytes,
      // The file written to is the last one in `next.files`.
      filePart: count > 0 ? next.files[next.files.length - 1].part : undefined,
      latencyMs: performance.now() - stepStart,
      searchMs,
      done: next.done,
      stagedAhead,
    });
  return checkpoint(deps, next, count, report);
}

async function checkpoint(
  deps: ExportDeps,
  next: ProgressDocument,
  pageResources: number,
  onSaved?: () => void,
): Promise<PageStepResult> {
  try {
    const saved = await during(OPERATIONS.checkpoint, deps.jobs.checkpointProgress(next));
    deps.progressCache.remember(saved);
    deps.probe?.('checkpointed', { jobId: next.jobId, unitId: next.unitId, page: next.page - 1 });
    onSaved?.();
    return written(saved, pageResources);
  } catch (error) {
    if (!(error instanceof JobConflictError)) throw error;
    return afterConflict(deps, next.jobId, next.unitId);
  }
}

/**
 * The commit or the checkpoint was refused: the job left Running, or another execution got there
 * first (a duplicate delivery of this page, or a stale progress this one started from): the stored
 * progress stands, nothing failed.
 */
async function afterConflict(deps: ExportDeps, jobId: string, unitId: string): Promise<PageStepResult> {
  deps.progressCache.forget(jobId, unitId);
  const stopped = await stoppedMeanwhile(deps, jobId);
  if (stopped) return stopped;
  const stored = await during(OPERATIONS.readProgress, deps.jobs.getProgress(jobId, unitId));
  if (!stored) throw new Error(`Progress ${unitId} of job ${jobId} is missing`);
  return written(stored, 0);
}

/**
 * `stopped` when the job (read afresh) is no longer Running. A cancel wins: what this late page may
 * have re-created after the cancel deleted the files is removed.
 */
async function stoppedMeanwhile(deps: ExportDeps, jobId: string): Promise<PageStepResult | undefined> {
  deps.runningJobs.forget(jobId);
  const job = await during(OPERATIONS.readJob, deps.jobs.getJob(jobId));
  if (job && job.status === 'Running') return undefined;
  if (job?.status === 'Cancelled') await deps.destinationFor(job.destination).deletePrefix(`${jobId}/`);
  return { outcome: 'stopped' };
}

const ORGANIZED_PARTS = { checkpoint, afterConflict, unitSearch };

function written(progress: ProgressDocument, pageResources: number): PageStepResult {
  return {
    outcome: 'written',
    done: progress.done,
    pageResources,
    resourceType: progress.resourceType,
    pages: progress.page,
    resources: progress.resourceCount,
  };
}

/** The job's de-identifier (see deidentifierCache.ts). */
function deidentifierFor(deps: ExportDeps, jobId: string): Promise<Deidentifier> {
  if (!deps.deid) throw new Error('This process has no de-identification engine');
  return during(OPERATIONS.readDeidConfig, deps.deid.forJob(jobId));
}

/** The unit's last page is in: the lane's next unit's first page can be read while it is written. */
function prefetchNextUnit(deps: ExportDeps, job: ExportJobRecord, nextUnit: PlannedUnit): void {
  const { resourceType } = nextUnit;
  const first = unitSearch(job, resourceType, deps.config.resourcesPerPage, job.patientScope, nextUnit);
  deps.source.prefetch?.(resourceType, first);
}

/**
 * After this page's commit: when the source holds the next page already, starts staging its block
 * while this page checkpoints. Only the source's own NDJSON block, and only without `_elements`: the
 * block must be exactly what the next page step would write.
 */
function stageNextAhead(
  deps: ExportDeps,
  destination: ExportDestination,
  next: ProgressDocument,
  params: SearchParameters,
  keep: string[],
): void {
  if (!deps.stageAhead || keep.length > 0 || next.continuationToken === undefined || next.kind) return;
  const page = deps.source.peek?.(next.resourceType, params, next.continuationToken);
  if (!page?.ndjson) return;
  const data = page.ndjson.bytes;
  const file = currentFile(next, next.jobId, data.length, deps.config.fileRollBytes);
  const id = blockIdFor(next.jobId, next.unitId, file.part, next.page, true);
  deps.stageAhead.start(destination, file.blobName, id, page, data);
}

/**
 * The bytes of a page's block and how many resources they hold: the source's own NDJSON block when it
 * has one and `_elements` removes nothing, else the lines (filtered) encoded.
 */
function pageData(page: SearchPage, keep: string[]): { data: Buffer; count: number; skipped?: undefined } {
  if (keep.length === 0 && page.ndjson) return { data: page.ndjson.bytes, count: page.ndjson.lines };
  const lines =
    keep.length > 0 ? page.resources.map((r) => applyElements(lineText(r), keep)) : page.resources;
  return { data: ndjsonBuffer(lines), count: lines.length };
}

/**
 * The version of the file this page's commit extends: the one the last checkpoint recorded, or no
 * blob for a file not yet written.
 */
function commitBase(file: ProgressFile): CommitBase {
  return file.etag ? { etag: file.etag } : 'new';
}

/** The file this page goes to: the last one, or a new part when the page would push it past the roll size. */
function currentFile(
  progress: ProgressDocument,
  jobId: string,
  pageBytes: number,
  rollBytes: number,
): ProgressFile {
  const last = progress.files.reduce<ProgressFile | undefined>(
    (a, f) => (!a || f.part > a.part ? f : a),
    undefined,
  );
  if (
    last &&
    (last.bytes === 0 || last.bytes + pageBytes <= rollBytes) &&
    last.blockIds.length < MAX_BLOCKS_PER_FILE
  ) {
    return last;
  }
  const part = (last?.part ?? 0) + 1;
  return {
    part,
    blobName: blobNameFor(jobId, progress.resourceType, part, progress.rangeIndex, progress.kind),
    blockIds: [],
    count: 0,
    bytes: 0,
  };
}

/**
 * What a unit of `job` asks the source for: the job's window, filters and patient scope; a time range
 * of a split type narrows the window to [rangeStart, rangeEnd) within [since, until].
 */
export function unitSearch(
  job: ExportJobRecord,
  resourceType: string,
  count: number,
  patients: string[] | undefined,
  range: { rangeStart?: string; rangeEnd?: string } = {},
): SearchParameters {
  return {
    since: laterInstant(job.request.since, range.rangeStart),
    until: searchUntil(job),
    ...(range.rangeEnd !== undefined ? { before: range.rangeEnd } : {}),
    typeFilters: job.request.typeFilters[resourceType] ?? [],
    patients,
    patientCompartmentOnly: job.request.level !== 'system',
    count,
  };
}

/** `_until` never reaches past the transaction time: later changes belong to the next export. */
export function searchUntil(job: ExportJobRecord): string {
  const until = job.request.until;
  return until && compareInstants(until, job.transactionTime) < 0 ? until : job.transactionTime;
}
