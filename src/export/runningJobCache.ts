/**
 * Job records of running jobs as page steps see them: read at most once per `maxAgeMs` per job.
 *
 * A page step needs its job for the request, the patient scope and the destination (all fixed once
 * the job runs) and to stop when the job stops. Stopping does not depend on this read: the
 * checkpoint is written only while the job is Running, and a page refused there after a cancel
 * removes what it wrote (see pageStep.ts). So a record up to `maxAgeMs` old only lets a page that
 * starts just after a cancel do its search and upload in vain; in exchange the job store serves one
 * read per job per interval instead of one per page.
 */
import type { ExportJobRecord } from './model';

/** Jobs remembered at once; the oldest is dropped past this (a process runs a handful at a time). */
const MAX_JOBS = 256;

interface Entry {
  job: ExportJobRecord;
  readAtMs: number;
}

export class RunningJobCache {
  private readonly entries = new Map<string, Entry>();
  /** Reads in flight, shared by the lanes of one job that ask at the same moment. */
  private readonly reading = new Map<string, Promise<ExportJobRecord | undefined>>();

  constructor(
    private readonly read: (jobId: string) => Promise<ExportJobRecord | undefined>,
    private readonly maxAgeMs: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** The job record; a cached one only while it was Running when read and is younger than `maxAgeMs`. */
  async get(jobId: string): Promise<ExportJobRecord | undefined> {
    const entry = this.entries.get(jobId);
    if (entry && this.nowMs() - entry.readAtMs < this.maxAgeMs) return entry.job;
    let pending = this.reading.get(jobId);
    if (!pending) {
      pending = this.readAndRemember(jobId);
      this.reading.set(jobId, pending);
    }
    return pending;
  }

  /** Drops the job's record, so that the next `get` reads it again. */
  forget(jobId: string): void {
    this.entries.delete(jobId);
  }

  private async readAndRemember(jobId: string): Promise<ExportJobRecord | undefined> {
    const readAtMs = this.nowMs();
    try {
      const job = await this.read(jobId);
      this.entries.delete(jobId);
      if (job?.status === 'Running' && this.maxAgeMs > 0) {
        if (this.entries.size >= MAX_JOBS) this.entries.delete(this.entries.keys().next().value as string);
        this.entries.set(jobId, { job, readAtMs });
      }
      return job;
    } finally {
      this.reading.delete(jobId);
    }
  }
}
