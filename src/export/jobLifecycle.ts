/**
 * The job status lifecycle as an explicit table:
 *
 *   Queued    → Running | Cancelled | Failed
 *   Running   → Completed | Failed | Cancelled
 *   Completed → Cancelled   (the client deletes a finished export: its files go, polls answer 404)
 *   Failed    → Cancelled   (likewise)
 *   Cancelled: final
 *
 * A status never transitions to itself; callers that may repeat a write (retries) check the current
 * status first.
 */
import { InvalidTransitionError } from './errors';
import type { ExportJobRecord, JobStatus } from './model';

export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = Object.freeze({
  Queued: Object.freeze(['Running', 'Cancelled', 'Failed'] as const),
  Running: Object.freeze(['Completed', 'Failed', 'Cancelled'] as const),
  Completed: Object.freeze(['Cancelled'] as const),
  Failed: Object.freeze(['Cancelled'] as const),
  Cancelled: Object.freeze([] as const),
});

/** Statuses in which a job still has work to do (counted against concurrency limits, reusable). */
export const ACTIVE_JOB_STATUSES: readonly JobStatus[] = Object.freeze(['Queued', 'Running'] as const);

/** Statuses in which no more export work happens (a finished job may still be deleted). */
export function isFinalStatus(status: JobStatus): boolean {
  return status === 'Completed' || status === 'Failed' || status === 'Cancelled';
}

export function isActiveStatus(status: JobStatus): boolean {
  return ACTIVE_JOB_STATUSES.includes(status);
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return JOB_TRANSITIONS[from]?.includes(to) ?? false;
}

/** Throws `InvalidTransitionError` unless the table allows `from → to`. */
export function assertTransition(from: JobStatus, to: JobStatus): void {
  if (!canTransition(from, to)) {
    throw new InvalidTransitionError(`A job cannot go from ${from} to ${to}`);
  }
}

/**
 * Whether a completed job is past `expiresAt`: its files are gone or about to go, so to its client it
 * no longer exists (status, download and cancel answer 404).
 */
export function isExpired(job: ExportJobRecord, now: Date): boolean {
  return job.status === 'Completed' && isPastExpiry(job, now);
}

/** Whether `now` is at or past the job's `expiresAt` (a job without one never expires). */
export function isPastExpiry(job: ExportJobRecord, now: Date): boolean {
  return job.expiresAt !== undefined && Date.parse(job.expiresAt) <= now.getTime();
}
