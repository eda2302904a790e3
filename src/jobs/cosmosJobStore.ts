/**
 * `JobStore` on Azure Cosmos DB.
 *
 * Layout: one container partitioned on `/jobId`. The job record is `{ id: jobId, docType: 'job' }`;
 * each progress unit is `{ id: '{jobId}:progress:{unitId}', docType: 'progress' }` in the same
 * partition. Replacements carry `If-Match` with the etag the document was read with; a mismatch
 * (412) becomes `JobConflictError`.
 *
 * `checkpointProgress` writes the progress document and, in the same transactional batch, applies a
 * conditional patch to the job record (`FROM c WHERE c.status = 'Running'`, setting
 * `/lastCheckpointAt`). If the job is no longer Running, or the progress etag is stale, the batch
 * fails as a whole and nothing is written. The patch carries no etag, so parallel units checkpointing
 * into the same job never contend with each other.
 *
 * The local emulator (`@vercel/cosmosdb-server`) rejects Patch inside a batch (400) and does not roll
 * back a batch whose later operation fails. Against it the store falls back to a sequence: the
 * conditional patch of the job first, then the progress replace with If-Match. The sequence can
 * still record one last checkpoint for a job that gets cancelled between the two calls (the patch
 * already saw it Running); it can never checkpoint a job that was cancelled before the call, which is
 * the guarantee callers rely on. See `checkpointMode`.
 *
 * A de-identified job's configuration and keys are a document of their own in its partition
 * (`cosmosDeidConfigs.ts`).
 *
 * The caps on active jobs are slot ledgers in the same container (`cosmosJobSlots.ts`), each alone
 * in its own `slots:…` partition.
 */
import { Container, CosmosClient, OperationInput, PatchRequestBody, SqlQuerySpec } from '@azure/cosmos';
import { JobConflictError } from '../export/errors';
import { ACTIVE_JOB_STATUSES } from '../export/jobLifecycle';
import {
  progressDocumentId,
  type DeidConfigDocument,
  type ExportJobRecord,
  type ManifestPageDocument,
  type ProgressDocument,
} from '../export/model';
import { CosmosDeidConfigs } from './cosmosDeidConfigs';
import type { JobStore } from './jobStore';
import { ensureContainer } from './cosmosClient';
import { cosmosStatusOf, deleteDocument, readDocument, withoutSystemProperties } from './cosmosDocuments';
import { CosmosJobSlots, type CosmosJobSlotsOptions } from './cosmosJobSlots';
import { CosmosManifestPages } from './cosmosManifestPages';
import type { SlotCaps, SlotVerdict } from './jobSlots';

/** The partition key path of the jobs container. */
export const JOBS_PARTITION_KEY_PATH = '/jobId';

/**
 * How `checkpointProgress` makes the progress write conditional on the job being Running:
 * - `batch`: one transactional batch (production Cosmos DB);
 * - `sequential`: conditional patch, then conditional replace (the local emulator);
 * - `auto` (default): `batch`, switching to `sequential` for good if the service answers that it
 *   does not support Patch in a batch.
 */
export type CheckpointMode = 'batch' | 'sequential' | 'auto';

export interface CosmosJobStoreOptions extends CosmosJobSlotsOptions {
  checkpointMode?: CheckpointMode;
  /** Clock for `lastCheckpointAt` and slot reservations; injectable for tests. */
  now?: () => Date;
}

/**
 * The condition under which a checkpoint may be written: the job is Running. Written with `LOWER`
 * because the local emulator lower-cases the whole filter predicate, string literals included, before
 * evaluating it; on Cosmos DB both spellings select the same documents.
 */
export const RUNNING_JOB_CONDITION = "FROM c WHERE LOWER(c.status) = 'running'";

function messageOf(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { message?: unknown; body?: { message?: unknown } };
    return String(e.body?.message ?? e.message ?? '');
  }
  return String(err);
}

export class CosmosJobStore implements JobStore {
  private mode: CheckpointMode;
  private readonly now: () => Date;
  /** The cap ledgers; public so that tests and operators can look at the holders. */
  readonly slots: CosmosJobSlots;
  private readonly deidConfigs: CosmosDeidConfigs;
  private readonly manifestPages: CosmosManifestPages;

  constructor(
    private readonly container: Container,
    options: CosmosJobStoreOptions = {},
  ) {
    this.mode = options.checkpointMode ?? 'auto';
    this.now = options.now ?? (() => new Date());
    this.slots = new CosmosJobSlots(container, options);
    this.deidConfigs = new CosmosDeidConfigs(container);
    this.manifestPages = new CosmosManifestPages(container);
  }

  /** The checkpoint mode in effect (`auto` resolves after the first checkpoint). */
  get checkpointMode(): CheckpointMode {
    return this.mode;
  }

  async createJob(job: ExportJobRecord): Promise<ExportJobRecord> {
    const body = withoutSystemProperties({ ...job, id: job.jobId, docType: 'job' as const }, false);
    try {
      const { resource } = await this.container.items.create(body);
      return withoutSystemProperties(resource as unknown as ExportJobRecord, true);
    } catch (err) {
      if (cosmosStatusOf(err) === 409) throw new JobConflictError(`Job ${job.jobId} already exists`);
      throw err;
    }
  }

  async getJob(jobId: string): Promise<ExportJobRecord | undefined> {
    const doc = await this.readDoc<ExportJobRecord>(jobId, jobId);
    // A voided reservation's stand-in holds the id but is no job.
    return doc?.docType === 'job' ? doc : undefined;
  }

  async replaceJob(job: ExportJobRecord): Promise<ExportJobRecord> {
    if (!job._etag) throw new Error('replaceJob needs the etag the job was read with');
    const body = withoutSystemProperties({ ...job, id: job.jobId, docType: 'job' as const }, false);
    try {
      const { resource } = await this.container
        .item(job.jobId, job.jobId)
        .replace(body, { accessCondition: { type: 'IfMatch', condition: job._etag } });
      return withoutSystemProperties(resource as unknown as ExportJobRecord, true);
    } catch (err) {
      const status = cosmosStatusOf(err);
      if (status === 412) throw new JobConflictError(`Job ${job.jobId} was changed by someone else`);
      if (status === 404) throw new JobConflictError(`Job ${job.jobId} no longer exists`);
      throw err;
    }
  }

  async findActiveJobByHash(clientId: string, requestHash: string): Promise<ExportJobRecord | undefined> {
    const jobs = await this.queryAll<ExportJobRecord>({
      query:
        'SELECT * FROM c WHERE c.docType = @docType AND c.clientId = @clientId AND c.requestHash = @requestHash AND ARRAY_CONTAINS(@active, c.status)',
      parameters: [
        { name: '@docType', value: 'job' },
        { name: '@clientId', value: clientId },
        { name: '@requestHash', value: requestHash },
        { name: '@active', value: [...ACTIVE_JOB_STATUSES] },
      ],
    });
    // The newest one wins if, against the odds, two exist.
    jobs.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    return jobs[0] && withoutSystemProperties(jobs[0], true);
  }

  async countActiveJobs(clientId?: string): Promise<number> {
    const parameters = [
      { name: '@docType', value: 'job' },
      { name: '@active', value: [...ACTIVE_JOB_STATUSES] },
    ];
    let query =
      'SELECT VALUE COUNT(1) FROM c WHERE c.docType = @docType AND ARRAY_CONTAINS(@active, c.status)';
    if (clientId !== undefined) {
      query += ' AND c.clientId = @clientId';
      parameters.push({ name: '@clientId', value: clientId });
    }
    const counts = await this.queryAll<number>({ query, parameters });
    // A cross-partition aggregate may come back as one partial count per partition range.
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async listJobsToSweep(now: string, historyEndedBefore: string): Promise<ExportJobRecord[]> {
    const jobs = await this.queryAll<ExportJobRecord>({
      query: `SELECT * FROM c WHERE c.docType = @docType AND (
          ARRAY_CONTAINS(@active, c.status)
          OR (ARRAY_CONTAINS(@ended, c.status) AND NOT IS_DEFINED(c.filesDeletedAt)
            AND (c.status = @cancelled OR c.expiresAt <= @now))
          OR (ARRAY_CONTAINS(@ended, c.status) AND NOT IS_DEFINED(c.historyPurgedAt)
            AND c.completedAt <= @historyEndedBefore))`,
      parameters: [
        { name: '@docType', value: 'job' },
        { name: '@active', value: [...ACTIVE_JOB_STATUSES] },
        { name: '@ended', value: ['Completed', 'Failed', 'Cancelled'] },
        { name: '@cancelled', value: 'Cancelled' },
        { name: '@now', value: now },
        { name: '@historyEndedBefore', value: historyEndedBefore },
      ],
    });
    return jobs.map((job) => withoutSystemProperties(job, true));
  }

  reserveSlots(jobId: string, clientId: string, caps: SlotCaps): Promise<SlotVerdict> {
    return this.slots.reserve(jobId, clientId, caps);
  }

  releaseSlots(jobId: string, clientId: string): Promise<void> {
    return this.slots.release(jobId, clientId);
  }

  async getProgress(jobId: string, unitId: string): Promise<ProgressDocument | undefined> {
    return this.readDoc<ProgressDocument>(progressDocumentId(jobId, unitId), jobId);
  }

  async listProgress(jobId: string): Promise<ProgressDocument[]> {
    const docs = await this.queryAll<ProgressDocument>(
      {
        query: 'SELECT * FROM c WHERE c.jobId = @jobId AND c.docType = @docType',
        parameters: [
          { name: '@jobId', value: jobId },
          { name: '@docType', value: 'progress' },
        ],
      },
      jobId,
    );
    return docs
      .map((d) => withoutSystemProperties(d, true))
      .sort((a, b) => (a.unitId < b.unitId ? -1 : a.unitId > b.unitId ? 1 : 0));
  }

  async deleteProgress(jobId: string): Promise<void> {
    for (const progress of await this.listProgress(jobId)) {
      await deleteDocument(this.container, progressDocumentId(jobId, progress.unitId), jobId);
    }
  }

  async createProgress(progress: ProgressDocument): Promise<ProgressDocument> {
    const body = this.progressBody(progress);
    try {
      const { resource } = await this.container.items.create(body);
      return withoutSystemProperties(resource as ProgressDocument, true);
    } catch (err) {
      if (cosmosStatusOf(err) !== 409) throw err;
      const existing = await this.getProgress(progress.jobId, progress.unitId);
      if (!existing) throw err;
      return existing;
    }
  }

  async checkpointProgress(progress: ProgressDocument): Promise<ProgressDocument> {
    if (!progress._etag) throw new Error('checkpointProgress needs the etag the progress was read with');
    if (this.mode !== 'sequential') {
      try {
        return await this.checkpointInBatch(progress);
      } catch (err) {
        if (this.mode !== 'batch' && isBatchPatchUnsupported(err)) {
          this.mode = 'sequential';
        } else {
          throw err;
        }
      }
    }
    return this.checkpointInSequence(progress);
  }

  createDeidConfig(doc: DeidConfigDocument): Promise<void> {
    return this.deidConfigs.create(doc);
  }

  getDeidConfig(jobId: string): Promise<DeidConfigDocument | undefined> {
    return this.deidConfigs.get(jobId);
  }

  deleteDeidConfig(jobId: string): Promise<void> {
    return this.deidConfigs.delete(jobId);
  }

  deleteOrphanedDeidConfigs(createdBefore: string): Promise<number> {
    return this.deidConfigs.deleteOrphans(createdBefore);
  }

  listManifestPages(jobId: string): Promise<ManifestPageDocument[]> {
    return this.manifestPages.list(jobId);
  }

  createManifestPage(page: ManifestPageDocument): Promise<boolean> {
    return this.manifestPages.create(page);
  }

  deleteManifestPages(jobId: string): Promise<void> {
    return this.manifestPages.deleteAll(jobId);
  }

  private progressBody(progress: ProgressDocument): ProgressDocument {
    return withoutSystemProperties(
      { ...progress, id: progressDocumentId(progress.jobId, progress.unitId), docType: 'progress' as const },
      false,
    );
  }

  private jobPatch(): PatchRequestBody {
    return {
      condition: RUNNING_JOB_CONDITION,
      operations: [{ op: 'set', path: '/lastCheckpointAt', value: this.now().toISOString() }],
    };
  }

  private conflict(progress: ProgressDocument, what: string): JobConflictError {
    return new JobConflictError(
      `Checkpoint of ${progress.jobId}/${progress.unitId} refused: ${what} (job not Running, or progress changed)`,
    );
  }

  private async checkpointInBatch(progress: ProgressDocument): Promise<ProgressDocument> {
    const { jobId } = progress;
    const body = this.progressBody(progress);
    const operations: OperationInput[] = [
      { operationType: 'Patch', id: jobId, partitionKey: jobId, resourceBody: this.jobPatch() },
      {
        operationType: 'Replace',
        id: body.id,
        partitionKey: jobId,
        ifMatch: progress._etag,
        resourceBody: body as never,
      },
    ];
    let response;
    try {
      response = await this.container.items.batch(operations, jobId);
    } catch (err) {
      if (isBatchPatchUnsupported(err)) throw err;
      const status = cosmosStatusOf(err);
      // The SDK rethrows batch transport errors as plain errors with the service's message only.
      if (
        status === 412 ||
        status === 404 ||
        status === 409 ||
        /precondition|not satisfied/i.test(messageOf(err))
      ) {
        throw this.conflict(progress, `status ${status ?? 412}`);
      }
      throw err;
    }
    const results = response.result ?? [];
    const failed = results.find((r) => r.statusCode >= 400 && r.statusCode !== 424);
    if (failed || response.code === 412 || results.length !== operations.length) {
      const status = failed?.statusCode ?? response.code;
      if (status === 412 || status === 404 || status === 409)
        throw this.conflict(progress, `status ${status}`);
      throw new Error(`Checkpoint batch failed with status ${status}`);
    }
    const saved = results[1].resourceBody as unknown as ProgressDocument | undefined;
    if (saved) return withoutSystemProperties(saved, true);
    const reread = await this.getProgress(jobId, progress.unitId);
    if (!reread) throw this.conflict(progress, 'progress vanished');
    return reread;
  }

  private async checkpointInSequence(progress: ProgressDocument): Promise<ProgressDocument> {
    const { jobId } = progress;
    try {
      await this.container.item(jobId, jobId).patch(this.jobPatch());
    } catch (err) {
      const status = cosmosStatusOf(err);
      if (status === 412 || status === 404) throw this.conflict(progress, `job status ${status}`);
      throw err;
    }
    const body = this.progressBody(progress);
    try {
      const { resource } = await this.container
        .item(body.id, jobId)
        .replace(body, { accessCondition: { type: 'IfMatch', condition: progress._etag! } });
      return withoutSystemProperties(resource as ProgressDocument, true);
    } catch (err) {
      const status = cosmosStatusOf(err);
      if (status === 412 || status === 404) throw this.conflict(progress, `progress status ${status}`);
      throw err;
    }
  }

  private readDoc<T extends object>(id: string, jobId: string): Promise<T | undefined> {
    return readDocument<T>(this.container, id, jobId);
  }

  private async queryAll<T>(spec: SqlQuerySpec, partitionKey?: string): Promise<T[]> {
    const { resources } = await this.container.items
      .query<T>(spec, partitionKey === undefined ? {} : { partitionKey })
      .fetchAll();
    return resources;
  }
}

/** The emulator's answer to Patch in a batch (the SDK keeps only the message of batch errors). */
function isBatchPatchUnsupported(err: unknown): boolean {
  return /operation type 'patch' is not supported in batch/i.test(messageOf(err));
}

export interface CosmosJobStoreSettings extends CosmosJobStoreOptions {
  client: CosmosClient;
  databaseId: string;
  containerId: string;
}

/** Creates the database and container if missing and returns a store on them. */
export async function createCosmosJobStore(settings: CosmosJobStoreSettings): Promise<CosmosJobStore> {
  const container = await ensureContainer(
    settings.client,
    settings.databaseId,
    settings.containerId,
    JOBS_PARTITION_KEY_PATH,
    // TTL on, without a default: only ended job records (which carry `ttl`) expire.
    { defaultTtl: -1 },
  );
  return new CosmosJobStore(container, settings);
}
