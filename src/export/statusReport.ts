/** What the Bulk Data status endpoint answers for a job: progress, the manifest, or the failure. */
import type { ExportDeps } from './exportDeps';
import { NotFoundError } from './errors';
import { isJobId } from './kickoff';
import { isExpired } from './jobLifecycle';
import {
  plannedTypes,
  type DeidentificationInfo,
  type ExportJobRecord,
  type ProgressDocument,
  type RunningJobRecord,
} from './model';
import { operationOutcome, type OperationOutcome } from './operationOutcome';
import { organizedEntries } from './organizedManifest';

export interface BulkManifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  /** Organized output (`organizeOutputBy`) has no `type`; a file's last block may go on elsewhere. */
  output: Array<{ type?: string; url: string; count: number; continuesInFile?: string }>;
  /** The request's `organizeOutputBy`, when the files are organized by it. */
  outputOrganizedBy?: string;
  /** Files of transaction Bundles deleting what changed to deleted since `_since` (absent without it). */
  deleted?: Array<{ type: string; url: string; count: number }>;
  error: Array<{ type: string; url: string; count?: number }>;
  /**
   * The IG's reserved place for what a server adds: for a de-identified export, the configuration
   * its files went through (its name, etag and SHA-256; never the keys).
   */
  extension?: { deidentification: DeidentificationInfo };
  /** The next page of the manifest (`allowPartialManifests`, see manifestPages.ts). */
  link?: Array<{ relation: 'next'; url: string }>;
}

export type StatusReport =
  | { state: 'in-progress'; progress: string; retryAfterSeconds: number; manifest?: BulkManifest }
  | { state: 'completed'; manifest: BulkManifest; expires?: string }
  | { state: 'failed'; statusCode: number; outcome: OperationOutcome };

/** The message of every "no such job" answer (status, cancel, download). */
export const JOB_NOT_FOUND = 'The export job was not found.';

/** Reads a job the client may see: another client's, a cancelled or an expired job is "not found". */
export async function readOwnJob(
  deps: ExportDeps,
  jobId: string,
  clientId: string,
): Promise<ExportJobRecord> {
  const job = isJobId(jobId) ? await deps.jobs.getJob(jobId) : undefined;
  if (!job || job.clientId !== clientId || job.status === 'Cancelled' || isExpired(job, deps.now())) {
    // One answer for all of these, without echoing the id: nothing tells them apart.
    throw new NotFoundError(JOB_NOT_FOUND);
  }
  return job;
}

export async function statusReport(
  deps: ExportDeps,
  job: ExportJobRecord,
  fileUrl: (job: ExportJobRecord, blobName: string) => Promise<string>,
): Promise<StatusReport> {
  switch (job.status) {
    case 'Queued':
      return {
        state: 'in-progress',
        progress: 'Queued',
        retryAfterSeconds: deps.config.pollRetryAfterSeconds,
      };
    case 'Running':
      return {
        state: 'in-progress',
        progress: progressText(job, await deps.jobs.listProgress(job.jobId)),
        retryAfterSeconds: deps.config.pollRetryAfterSeconds,
      };
    case 'Completed': {
      const entries = (files: ExportJobRecord['output']) =>
        Promise.all(
          (files ?? []).map(async (o) => ({
            type: o.type,
            url: await fileUrl(job, o.blobName),
            count: o.count,
          })),
        );
      const [output, deleted, error] = await Promise.all([
        job.request.organizeOutputBy ? organizedEntries(job, fileUrl) : entries(job.output),
        entries(job.deleted?.map((d) => ({ ...d, type: 'Bundle' }))),
        entries(job.errorFiles),
      ]);
      return {
        state: 'completed',
        manifest: {
          transactionTime: job.transactionTime,
          request: job.request.requestUrl,
          requiresAccessToken: deps.config.fileAccess === 'download',
          ...(job.request.organizeOutputBy ? { outputOrganizedBy: job.request.organizeOutputBy } : {}),
          output,
          ...(job.request.since !== undefined ? { deleted } : {}),
          error,
          ...(job.deidentification ? { extension: { deidentification: job.deidentification } } : {}),
        },
        expires: job.expiresAt,
      };
    }
    case 'Failed':
      return {
        state: 'failed',
        statusCode: job.failureDetails.statusCode,
        outcome: operationOutcome(job.failureDetails.reason, 'exception'),
      };
    default:
      throw new NotFoundError(JOB_NOT_FOUND);
  }
}

/** A short `X-Progress` line (the spec asks for under 100 characters). */
export function progressText(job: RunningJobRecord, progress: ProgressDocument[]): string {
  const resources = progress.reduce((sum, p) => sum + p.resourceCount, 0);
  // A split type has one progress document per range; it is done when all of them are.
  const types = new Map<string, boolean>();
  for (const p of progress) types.set(p.resourceType, (types.get(p.resourceType) ?? true) && p.done);
  const typesDone = [...types.values()].filter(Boolean).length;
  const planned = plannedTypes(job).length;
  // A unit that has not read its first page yet counts with the plan's estimate, when there is one.
  const estimates = new Map(job.plannedUnits.map((u) => [u.unitId, u.estimate]));
  const totals = progress.map((p) => (p.done ? p.resourceCount : (p.total ?? estimates.get(p.unitId))));
  if (progress.length > 0 && totals.every((t): t is number => t !== undefined)) {
    const total = totals.reduce((a, b) => a + b, 0);
    const percent = total === 0 ? 100 : Math.min(99, Math.floor((resources / total) * 100));
    return `${percent}% (${resources} of ${total} resources, ${typesDone}/${planned} types)`;
  }
  return `Exporting: ${resources} resources, ${typesDone}/${planned} types done`;
}
