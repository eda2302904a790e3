/**
 * The transactional-batch checkpoint of `CosmosJobStore` (production Cosmos DB). The local emulator
 * cannot run a batch with a patch in it, so this path is shown here against a scripted container:
 * which batch answers are conflicts (the job stopped, or the progress moved on) and which are faults.
 */
import type { Container } from '@azure/cosmos';
import { JobConflictError } from '../../../src/export/errors';
import type { ProgressDocument } from '../../../src/export/model';
import { CosmosJobStore } from '../../../src/jobs/cosmosJobStore';

const progress = {
  jobId: 'job-1',
  unitId: 'Patient',
  resourceType: 'Patient',
  page: 3,
  done: false,
  resourceCount: 30,
  bytes: 3000,
  files: [],
  updatedAt: '2026-01-01T00:00:00.000Z',
  _etag: '"7"',
} as unknown as ProgressDocument;

type BatchAnswer = () => unknown;

function storeAnswering(answer: BatchAnswer, mode: 'batch' | 'auto' = 'batch') {
  const sent: unknown[][] = [];
  const container = {
    items: {
      batch: async (operations: unknown[]) => {
        sent.push(operations);
        return answer();
      },
    },
  } as unknown as Container;
  return { store: new CosmosJobStore(container, { checkpointMode: mode }), sent };
}

function errorWith(code: number, message = `status ${code}`): Error {
  return Object.assign(new Error(message), { code });
}

describe('CosmosJobStore checkpoint as one transactional batch', () => {
  it('given both operations succeed, when checkpointing, then the saved progress with its new etag is returned', async () => {
    const { store, sent } = storeAnswering(() => ({
      code: 200,
      result: [
        { statusCode: 200 },
        { statusCode: 200, resourceBody: { ...progress, page: 4, _etag: '"8"', _ts: 1 } },
      ],
    }));
    const saved = await store.checkpointProgress({ ...progress, page: 4 });
    expect(saved).toMatchObject({ page: 4, _etag: '"8"' });
    expect(saved).not.toHaveProperty('_ts');
    // The job patch is conditional on Running; the replace carries the progress etag.
    expect(sent[0]).toMatchObject([
      { operationType: 'Patch', id: 'job-1', resourceBody: { condition: expect.stringMatching(/running/) } },
      { operationType: 'Replace', ifMatch: '"7"' },
    ]);
  });

  it.each([
    ['the progress moved on (replace 412)', [{ statusCode: 424 }, { statusCode: 412 }]],
    ['the job is not Running (patch condition 412)', [{ statusCode: 412 }, { statusCode: 424 }]],
    ['the job is gone (patch 404)', [{ statusCode: 404 }, { statusCode: 424 }]],
  ])('given %s, when checkpointing, then JobConflictError', async (_what, result) => {
    const { store } = storeAnswering(() => ({ code: 412, result }));
    await expect(store.checkpointProgress(progress)).rejects.toBeInstanceOf(JobConflictError);
  });

  it.each([412, 404, 409])(
    'given the batch call fails with %i, when checkpointing, then JobConflictError',
    async (code) => {
      const { store } = storeAnswering(() => {
        throw errorWith(code);
      });
      await expect(store.checkpointProgress(progress)).rejects.toBeInstanceOf(JobConflictError);
    },
  );

  it('given a server fault in the batch, when checkpointing, then the error is not taken for a conflict', async () => {
    const { store } = storeAnswering(() => ({
      code: 500,
      result: [{ statusCode: 500 }, { statusCode: 424 }],
    }));
    const error = await store.checkpointProgress(progress).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(JobConflictError);
    expect((error as Error).message).toMatch(/500/);
  });

  it('given batch mode and a service without patch in batches, when checkpointing, then it fails instead of falling back', async () => {
    const { store } = storeAnswering(() => {
      throw errorWith(400, "Operation type 'Patch' is not supported in batch");
    });
    await expect(store.checkpointProgress(progress)).rejects.toThrow(/not supported in batch/);
    expect(store.checkpointMode).toBe('batch');
  });

  it('given a progress without an etag, when checkpointing, then it is refused before any call', async () => {
    const { store, sent } = storeAnswering(() => ({ code: 200, result: [] }));
    await expect(store.checkpointProgress({ ...progress, _etag: undefined })).rejects.toThrow(/etag/);
    expect(sent).toHaveLength(0);
  });
});
