/** The URL a manifest gives for each file: a SAS URL, or the API's own download endpoint. */
import type { ExportDeps } from './exportDeps';
import { fileNameOf } from './jobAccess';
import type { ExportJobRecord } from './model';

/**
 * When a SAS URL handed out now expires: after `EXPORT_SAS_LIFETIME_MINUTES`, but never after the
 * job's `expiresAt` (the manifest's `Expires`), after which its files are deleted and no link to
 * them may work.
 */
export function sasExpiresOn(
  now: Date,
  lifetimeMinutes: number,
  job: Pick<ExportJobRecord, 'expiresAt'>,
): Date {
  const end = now.getTime() + lifetimeMinutes * 60_000;
  const jobEnd = job.expiresAt ? Date.parse(job.expiresAt) : Number.NaN;
  return new Date(Number.isNaN(jobEnd) ? end : Math.min(end, jobEnd));
}

/** The manifest URL of each file of a job, for a service reached at `apiBase`. */
export function fileUrlsOf(
  deps: ExportDeps,
  apiBase: string,
): (job: ExportJobRecord, blobName: string) => Promise<string> {
  if (deps.config.fileAccess === 'sas') {
    return (job, blobName) =>
      deps
        .destinationFor(job.destination)
        .sasUrl(blobName, sasExpiresOn(deps.now(), deps.config.sasLifetimeMinutes, job));
  }
  return async (job, blobName) =>
    `${apiBase}/_operations/export/${job.jobId}/files/${encodeURIComponent(fileNameOf(blobName))}`;
}
