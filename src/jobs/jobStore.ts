import type {
  DeidConfigDocument,
  ExportJobRecord,
  ManifestPageDocument,
  ProgressDocument,
} from '../export/model';
import type { SlotCaps, SlotVerdict } from './jobSlots';

/**
 * Persistence of job records and their progress documents. Every write that replaces an existing
 * document takes the etag it was read with; a mismatch throws `JobConflictError`.
 */
export interface JobStore {
  /** Creates a job record; its id must be new (never used nor voided). Returns it with its etag. */
  createJob(job: ExportJobRecord): Promise<ExportJobRecord>;
  /** Reads a job record with its etag, or undefined (also for a job id voided by the slots). */
  getJob(jobId: string): Promise<ExportJobRecord | undefined>;
  /** Replaces a job record if its etag still matches (`job._etag`). Returns the new version. */
  replaceJob(job: ExportJobRecord): Promise<ExportJobRecord>;
  /** Finds a non-final job of this client with the same request hash (request reuse). */
  findActiveJobByHash(clientId: string, requestHash: string): Promise<ExportJobRecord | undefined>;
  /** Counts the client's (or all) jobs that are Queued or Running; the caps rely on slots instead. */
  countActiveJobs(clientId?: string): Promise<number>;
  /**
   * The jobs the sweeper looks at: every Queued or Running job; every ended job whose files are not
   * deleted yet while it is Cancelled or expired (`expiresAt` at or before `now`); and every ended
   * job whose history is not purged yet that ended at or before `historyEndedBefore` (ISO instants).
   */
  listJobsToSweep(now: string, historyEndedBefore: string): Promise<ExportJobRecord[]>;

  /**
   * Takes a slot of the client's cap and one of the service's for a job about to be created, unless
   * either cap is full. Atomic across concurrent callers. See `jobSlots.ts`.
   */
  reserveSlots(jobId: string, clientId: string, caps: SlotCaps): Promise<SlotVerdict>;
  /** Gives back the slots of a job that ended; idempotent. */
  releaseSlots(jobId: string, clientId: string): Promise<void>;

  /** Reads a progress document with its etag, or undefined. */
  getProgress(jobId: string, unitId: string): Promise<ProgressDocument | undefined>;
  /** All progress documents of a job. */
  listProgress(jobId: string): Promise<ProgressDocument[]>;
  /** Deletes every progress document of a job (an ended job's, once its history is purged). */
  deleteProgress(jobId: string): Promise<void>;
  /** Creates a progress document; if one exists already, returns the stored one unchanged. */
  createProgress(progress: ProgressDocument): Promise<ProgressDocument>;
  /**
   * Saves a progress document with If-Match on `progress._etag`, atomically with a check that the
   * job is still Running (one transactional batch in the job's partition). Throws
   * `JobConflictError` when either precondition fails; `getJob` tells which.
   */
  checkpointProgress(progress: ProgressDocument): Promise<ProgressDocument>;

  /** Stores a de-identified job's pinned configuration and keys; one that exists already is kept. */
  createDeidConfig(doc: DeidConfigDocument): Promise<void>;
  /** Reads a job's pinned configuration, or undefined. */
  getDeidConfig(jobId: string): Promise<DeidConfigDocument | undefined>;
  /** Deletes a job's pinned configuration, if any (with its files). */
  deleteDeidConfig(jobId: string): Promise<void>;
  /** Deletes pinned configurations older than `createdBefore` that no job record took; how many. */
  deleteOrphanedDeidConfigs(createdBefore: string): Promise<number>;
  /** The manifest pages of a job (`allowPartialManifests`), by page number. */
  listManifestPages(jobId: string): Promise<ManifestPageDocument[]>;
  /** Creates a manifest page; false, changing nothing, when that page exists already. */
  createManifestPage(page: ManifestPageDocument): Promise<boolean>;
  /** Deletes every manifest page of a job (once its files are deleted). */
  deleteManifestPages(jobId: string): Promise<void>;
}
