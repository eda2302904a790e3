import { Container } from '@azure/cosmos';
import { JobConflictError } from '../../../src/export/errors';
import type {
  DeidConfigDocument,
  ExportJobRecord,
  ManifestPageDocument,
  ProgressDocument,
} from '../../../src/export/model';
import { ensureContainer } from '../../../src/jobs/cosmosClient';
import {
  CheckpointMode,
  CosmosJobStore,
  createCosmosJobStore,
  RUNNING_JOB_CONDITION,
} from '../../../src/jobs/cosmosJobStore';
import {
  cancelledJob,
  completedJob,
  failedJob,
  progressDocument,
  queuedJob,
  runningJob,
} from '../../support/jobRecords';
import { useCosmosTestDatabase } from '../../support/cosmosTestDatabase';
import { uniqueName } from '../../support/testEnv';

const database = useCosmosTestDatabase('jobstore');

function progress(jobId: string, unitId: string): ProgressDocument {
  return progressDocument(unitId, { id: '', jobId, resourceType: unitId });
}

async function newStore(mode?: CheckpointMode): Promise<CosmosJobStore> {
  return createCosmosJobStore({
    client: database.client,
    databaseId: database.databaseId,
    containerId: uniqueName('jobs'),
    checkpointMode: mode,
  });
}

describe('CosmosJobStore', () => {
  test('given a new job, when created and read, then it round-trips with an etag and no system fields', async () => {
    const store = await newStore();
    const created = await store.createJob(queuedJob('job-1'));
    expect(created._etag).toBeTruthy();
    const read = await store.getJob('job-1');
    expect(read).toMatchObject({ jobId: 'job-1', status: 'Queued', docType: 'job' });
    expect(read?._etag).toBe(created._etag);
    expect(read).not.toHaveProperty('_rid');
    expect(read).not.toHaveProperty('_ts');
    expect(await store.getJob('nope')).toBeUndefined();
  });

  test('given an existing job id, when created again, then JobConflictError', async () => {
    const store = await newStore();
    await store.createJob(queuedJob('job-dup'));
    await expect(store.createJob(queuedJob('job-dup'))).rejects.toBeInstanceOf(JobConflictError);
  });

  test('given two writers with the same etag, when both replace, then the second gets JobConflictError', async () => {
    const store = await newStore();
    const created = await store.createJob(queuedJob('job-2'));
    const first = await store.replaceJob(runningJob('job-2', { _etag: created._etag }));
    expect(first._etag).not.toBe(created._etag);
    await expect(store.replaceJob({ ...created, status: 'Cancelled' })).rejects.toBeInstanceOf(
      JobConflictError,
    );
    expect((await store.getJob('job-2'))?.status).toBe('Running');
    await expect(store.replaceJob({ ...created, jobId: 'ghost', id: 'ghost' })).rejects.toBeInstanceOf(
      JobConflictError,
    );
  });

  test('findActiveJobByHash and countActiveJobs see only Queued/Running jobs of the client', async () => {
    const store = await newStore();
    await store.createJob(queuedJob('a1', { requestHash: 'h1', clientId: 'c1' }));
    await store.createJob(runningJob('a2', { requestHash: 'h2', clientId: 'c1' }));
    await store.createJob(completedJob('a3', { requestHash: 'h3', clientId: 'c1' }));
    await store.createJob(runningJob('a4', { requestHash: 'h1', clientId: 'c2' }));
    await store.createJob(cancelledJob('a5', { requestHash: 'h1', clientId: 'c1' }));

    expect((await store.findActiveJobByHash('c1', 'h1'))?.jobId).toBe('a1');
    expect((await store.findActiveJobByHash('c1', 'h2'))?.jobId).toBe('a2');
    expect(await store.findActiveJobByHash('c1', 'h3')).toBeUndefined();
    expect(await store.findActiveJobByHash('c3', 'h1')).toBeUndefined();
    expect(await store.countActiveJobs('c1')).toBe(2);
    expect(await store.countActiveJobs('c2')).toBe(1);
    expect(await store.countActiveJobs('nobody')).toBe(0);
    expect(await store.countActiveJobs()).toBe(3);
  });

  test("createProgress is idempotent and listProgress returns the job's units", async () => {
    const store = await newStore();
    await store.createJob(runningJob('p1'));
    const a = await store.createProgress(progress('p1', 'Patient'));
    expect(a.id).toBe('p1:progress:Patient');
    const again = await store.createProgress({ ...progress('p1', 'Patient'), page: 99 });
    expect(again.page).toBe(0);
    expect(again._etag).toBe(a._etag);
    await store.createProgress(progress('p1', 'Observation'));
    const list = await store.listProgress('p1');
    expect(list.map((p) => p.unitId)).toEqual(['Observation', 'Patient']);
    expect(await store.getProgress('p1', 'Nope')).toBeUndefined();
  });

  describe.each<CheckpointMode>(['auto', 'sequential'])('checkpointProgress (%s mode)', (mode) => {
    test('given a Running job, when checkpointed, then progress is saved with a new etag', async () => {
      const store = await newStore(mode);
      await store.createJob(runningJob('c1'));
      const p = await store.createProgress(progress('c1', 'Patient'));
      const saved = await store.checkpointProgress({
        ...p,
        page: 1,
        continuationToken: 'tok',
        resourceCount: 10,
      });
      expect(saved).toMatchObject({ page: 1, continuationToken: 'tok', resourceCount: 10 });
      expect(saved._etag).not.toBe(p._etag);
      expect((await store.getProgress('c1', 'Patient'))?.page).toBe(1);
      const jobDoc = (await store.getJob('c1')) as ExportJobRecord & { lastCheckpointAt?: string };
      expect(jobDoc.lastCheckpointAt).toBeTruthy();
      // The emulator refuses Patch in a batch: `auto` must have switched to the sequential checkpoint.
      expect(store.checkpointMode).toBe('sequential');
    });

    test('given a stale progress etag, when checkpointed, then JobConflictError and the first write stays', async () => {
      const store = await newStore(mode);
      await store.createJob(runningJob('c2'));
      const p = await store.createProgress(progress('c2', 'Patient'));
      await store.checkpointProgress({ ...p, page: 1 });
      await expect(store.checkpointProgress({ ...p, page: 7 })).rejects.toBeInstanceOf(JobConflictError);
      expect((await store.getProgress('c2', 'Patient'))?.page).toBe(1);
    });

    test.each(['Cancelled', 'Queued', 'Failed', 'Completed'] as const)(
      'given a %s job, when checkpointed, then JobConflictError and progress unchanged',
      async (status) => {
        const store = await newStore(mode);
        const created = await store.createJob(runningJob('c3'));
        const p = await store.createProgress(progress('c3', 'Patient'));
        const ended = {
          Cancelled: cancelledJob,
          Queued: queuedJob,
          Failed: failedJob,
          Completed: completedJob,
        };
        await store.replaceJob({ ...ended[status]('c3'), _etag: created._etag });
        await expect(store.checkpointProgress({ ...p, page: 5 })).rejects.toBeInstanceOf(JobConflictError);
        const after = await store.getProgress('c3', 'Patient');
        expect(after?.page).toBe(0);
        expect(after?._etag).toBe(p._etag);
      },
    );

    test('given two units of one job, when both checkpoint, then neither conflicts', async () => {
      const store = await newStore(mode);
      await store.createJob(runningJob('c4'));
      const a = await store.createProgress(progress('c4', 'Patient'));
      const b = await store.createProgress(progress('c4', 'Observation'));
      await Promise.all([
        store.checkpointProgress({ ...a, page: 1 }),
        store.checkpointProgress({ ...b, page: 1 }),
      ]);
      expect((await store.listProgress('c4')).map((p) => p.page)).toEqual([1, 1]);
    });
  });

  test('given manifest pages, when one is created twice, then the second create changes nothing; they list by page and go with deleteManifestPages', async () => {
    const store = await newStore();
    await store.createJob(runningJob('m1'));
    const page = (n: number, blobName: string): ManifestPageDocument => ({
      id: '',
      jobId: 'm1',
      docType: 'manifestPage',
      page: n,
      files: [{ type: 'Patient', blobName, count: 1, bytes: 10 }],
      createdAt: '2024-01-01T00:00:00.000Z',
    });
    expect(await store.createManifestPage(page(2, 'm1/Patient-2.ndjson'))).toBe(true);
    expect(await store.createManifestPage(page(1, 'm1/Patient-1.ndjson'))).toBe(true);
    expect(await store.createManifestPage(page(1, 'm1/other.ndjson'))).toBe(false);
    const pages = await store.listManifestPages('m1');
    expect(pages.map((p) => [p.id, p.page, p.files[0].blobName])).toEqual([
      ['m1:manifest:1', 1, 'm1/Patient-1.ndjson'],
      ['m1:manifest:2', 2, 'm1/Patient-2.ndjson'],
    ]);
    await store.deleteManifestPages('m1');
    expect(await store.listManifestPages('m1')).toEqual([]);
    expect(await store.getJob('m1')).toBeDefined();
  });

  test('given pinned configurations, when orphans are deleted, then only old ones without a job record go', async () => {
    const store = await newStore();
    const pinned = (jobId: string, createdAt: string): DeidConfigDocument => ({
      id: '',
      jobId,
      docType: 'deid',
      configBase64: Buffer.from('{}').toString('base64'),
      missingKeys: { cryptoHashKey: 'k' },
      createdAt,
    });
    await store.createJob(runningJob('with-job'));
    await store.createDeidConfig(pinned('with-job', '2024-01-01T00:00:00.000Z'));
    await store.createDeidConfig(pinned('orphan', '2024-01-01T00:00:00.000Z'));
    await store.createDeidConfig(pinned('young', '2024-01-01T02:00:00.000Z'));

    expect(await store.deleteOrphanedDeidConfigs('2024-01-01T01:00:00.000Z')).toBe(1);
    expect(await store.getDeidConfig('orphan')).toBeUndefined();
    expect(await store.getDeidConfig('with-job')).toBeDefined();
    expect(await store.getDeidConfig('young')).toBeDefined();
  });
});

/**
 * What the local emulator can and cannot do with transactional batches; these document why the
 * store falls back to `sequential` there. If one starts failing, the emulator changed: revisit the
 * fallback in cosmosJobStore.ts.
 */
describe('Cosmos emulator batch semantics', () => {
  let container: Container;
  beforeAll(async () => {
    container = await ensureContainer(database.client, database.databaseId, uniqueName('probe'), '/jobId');
    await container.items.create({ id: 'j', jobId: 'j', status: 'Running' });
    await container.items.create({ id: 'p', jobId: 'j', page: 0 });
  });

  test('a conditional patch outside a batch honours its filter predicate (412 when false)', async () => {
    await container
      .item('j', 'j')
      .patch({ condition: RUNNING_JOB_CONDITION, operations: [{ op: 'set', path: '/x', value: 1 }] });
    await container.item('j', 'j').replace({ id: 'j', jobId: 'j', status: 'Cancelled', x: 1 });
    await expect(
      container
        .item('j', 'j')
        .patch({ condition: RUNNING_JOB_CONDITION, operations: [{ op: 'set', path: '/x', value: 2 }] }),
    ).rejects.toMatchObject({ code: 412 });
    const { resource } = await container.item('j', 'j').read();
    expect(resource.x).toBe(1);
  });

  test('the emulator lower-cases filter predicates, so a mixed-case literal never matches', async () => {
    await container.items.create({ id: 'k', jobId: 'j', status: 'Running' });
    await expect(
      container.item('k', 'j').patch({
        condition: "FROM c WHERE c.status = 'Running'",
        operations: [{ op: 'set', path: '/x', value: 1 }],
      }),
    ).rejects.toMatchObject({ code: 412 });
  });

  test('Patch inside a batch is rejected', async () => {
    await expect(
      container.items.batch(
        [
          {
            operationType: 'Patch',
            id: 'j',
            partitionKey: 'j',
            resourceBody: { operations: [{ op: 'set', path: '/y', value: 1 }] },
          },
        ],
        'j',
      ),
    ).rejects.toThrow(/not supported in Batch/);
  });

  test('a batch whose second operation fails is NOT rolled back by the emulator', async () => {
    const { resource } = await container.item('p', 'j').read();
    await container.items
      .batch(
        [
          { operationType: 'Upsert', partitionKey: 'j', resourceBody: { id: 'u', jobId: 'j', v: 1 } },
          {
            operationType: 'Replace',
            id: 'p',
            partitionKey: 'j',
            ifMatch: '"stale"',
            resourceBody: { ...resource, page: 9 },
          },
        ],
        'j',
      )
      .catch(() => undefined);
    // Real Cosmos DB: the whole batch fails and `u` does not exist. The emulator keeps `u`.
    const { resource: u } = await container.item('u', 'j').read();
    expect(u).toBeDefined();
    // …while the stale replace itself did not apply.
    const { resource: after } = await container.item('p', 'j').read<{ page?: number }>();
    expect(after?.page).not.toBe(9);
  });
});
