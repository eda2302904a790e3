/**
 * De-identifiers of running jobs as page steps use them: a job's pinned configuration is read and
 * compiled once per process, not once per page. The de-identifier is built from that configuration,
 * the keys generated for what it leaves out, and the job id as seed, so every process (and every
 * retry of a page) de-identifies a resource to the same bytes.
 */
import type { DeidEngine, Deidentifier } from '../deid/contract';
import type { DeidConfigDocument } from './model';
import { ExpiringMap } from '../util/expiringMap';

/** Jobs kept at once; a process runs a handful of jobs at a time. */
const MAX_JOBS = 64;
/**
 * How long a job's de-identifier is kept: a long job reads its configuration again now and then, and
 * the keys of an ended job do not stay in memory much longer than the job.
 */
const TTL_MS = 30 * 60_000;

export class DeidentifierCache {
  private readonly entries = new ExpiringMap<string, Promise<Deidentifier>>(MAX_JOBS, TTL_MS, () => {});

  constructor(
    readonly engine: DeidEngine,
    private readonly read: (jobId: string) => Promise<DeidConfigDocument | undefined>,
  ) {}

  /** The job's de-identifier; lanes of one job that ask at once share one read. */
  forJob(jobId: string): Promise<Deidentifier> {
    let entry = this.entries.get(jobId);
    if (!entry) {
      entry = this.build(jobId);
      this.entries.set(jobId, entry);
      // A failed read is not kept: the page's retry reads again.
      const pending = entry;
      pending.catch(() => {
        if (this.entries.get(jobId) === pending) this.entries.take(jobId);
      });
    }
    return entry;
  }

  private async build(jobId: string): Promise<Deidentifier> {
    const doc = await this.read(jobId);
    if (!doc) throw new Error(`The de-identification configuration of job ${jobId} is missing`);
    const text = Buffer.from(doc.configBase64, 'base64').toString('utf8');
    const config = this.engine.compile(text);
    return this.engine.deidentifier(config, doc.missingKeys, jobId);
  }
}
