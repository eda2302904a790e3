/**
 * What happens to an ended job over time, applied by the sweeper: its files are deleted once it is
 * cancelled or past `expiresAt`, and its durable history and progress documents once it ended more
 * than `historyRetentionHours` ago (they serve diagnosis until then; the manifest lives on the
 * record), and with them a de-identified job's pinned configuration and keys. The record itself goes by Cosmos DB's TTL (`ttl`, set when the job ends).
 */
import type { ExportDeps } from './exportDeps';
import { deleteJobFiles, markHistoryPurged } from './jobActions';
import { isFinalStatus, isPastExpiry } from './jobLifecycle';
import type { ExportJobRecord } from './model';

export type RetentionAction = 'filesDeleted' | 'historyPurged';

/** Whether an ended job's files are due for deletion at `now`. */
export function filesDue(job: ExportJobRecord, now: Date): boolean {
  if (!isFinalStatus(job.status) || job.filesDeletedAt) return false;
  return job.status === 'Cancelled' || isPastExpiry(job, now);
}

/** Whether an ended job's durable history is due for purging at `now`. */
export function historyDue(job: ExportJobRecord, now: Date, retentionHours: number): boolean {
  if (!isFinalStatus(job.status) || job.historyPurgedAt || !job.completedAt) return false;
  return Date.parse(job.completedAt) + retentionHours * 3600_000 <= now.getTime();
}

/**
 * Applies what is due to `job`. `purgeHistory` removes the job's orchestration instances (the
 * durable client's part).
 */
export async function applyRetention(
  deps: ExportDeps,
  job: ExportJobRecord,
  purgeHistory: (job: ExportJobRecord) => Promise<void>,
): Promise<RetentionAction[]> {
  const now = deps.now();
  const done: RetentionAction[] = [];
  if (filesDue(job, now)) {
    // First: once the files are marked deleted, the sweeper never comes back for the pages, nor for
    // a de-identified job's configuration and keys, which an ended job no longer needs.
    await deps.jobs.deleteManifestPages(job.jobId);
    await deps.jobs.deleteDeidConfig(job.jobId);
    await deleteJobFiles(deps, job);
    done.push('filesDeleted');
  }
  if (historyDue(job, now, deps.config.historyRetentionHours)) {
    await purgeHistory(job);
    await deps.jobs.deleteProgress(job.jobId);
    // Again, for a job whose files were deleted before its keys went with them.
    await deps.jobs.deleteDeidConfig(job.jobId);
    await markHistoryPurged(deps, job.jobId);
    done.push('historyPurged');
  }
  return done;
}

/** How old a pinned configuration without a job record must be before the sweeper deletes it. */
export const ORPHANED_DEID_CONFIG_AGE_MS = 3600_000;

/**
 * Deletes the pinned configurations (and keys) of kick-offs that died before creating their job
 * record; returns how many.
 */
export function deleteOrphanedDeidConfigs(deps: ExportDeps): Promise<number> {
  const before = new Date(deps.now().getTime() - ORPHANED_DEID_CONFIG_AGE_MS);
  return deps.jobs.deleteOrphanedDeidConfigs(before.toISOString());
}
