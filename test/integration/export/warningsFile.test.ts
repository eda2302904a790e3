/**
 * The manifest's `error` file (the kick-off's lenient-handling warnings) when the completion that
 * writes it dies and runs again: Cosmos job store and Blob destination on the emulators.
 */
import { randomUUID } from 'node:crypto';
import { exportConfigFromEnv } from '../../../src/config';
import { BlobExportDestination, getBlobServiceClient } from '../../../src/destination/blobExportDestination';
import type { ExportDestination } from '../../../src/destination/exportDestination';
import type { ExportDeps } from '../../../src/export/exportDeps';
import { completeJob, WARNINGS_FILE } from '../../../src/export/jobActions';
import { ProgressCache } from '../../../src/export/progressCache';
import { RunningJobCache } from '../../../src/export/runningJobCache';
import { getCosmosClient } from '../../../src/jobs/cosmosClient';
import { createCosmosJobStore, type CosmosJobStore } from '../../../src/jobs/cosmosJobStore';
import type { JobStore } from '../../../src/jobs/jobStore';
import type { SearchSource } from '../../../src/sources/searchSource';
import { runningJob } from '../../support/jobRecords';
import { testConnectionInfo, uniqueName } from '../../support/testEnv';

const WARNINGS = ['_unknown was ignored.', 'includeAssociatedData=LatestProvenanceResources was ignored.'];

describe('the warnings file of a completion that crashed', () => {
  const database = uniqueName('warnings');
  const container = uniqueName('warnings');
  let jobs: CosmosJobStore;
  let destination: BlobExportDestination;

  beforeAll(async () => {
    const info = testConnectionInfo();
    const cosmos = getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey });
    jobs = await createCosmosJobStore({ client: cosmos, databaseId: database, containerId: 'jobs' });
    const blobService = getBlobServiceClient({ connectionString: info.storageConnectionString, maxTries: 1 });
    destination = new BlobExportDestination(blobService, container);
    await destination.ensureReady();
  });
  afterAll(() => destination.containerClient.deleteIfExists());

  function depsWith(store: JobStore, writer: ExportDestination): ExportDeps {
    return {
      jobs: store,
      runningJobs: new RunningJobCache((jobId) => store.getJob(jobId), 0),
      progressCache: new ProgressCache(0),
      source: {} as SearchSource,
      config: exportConfigFromEnv({}),
      destinationRef: destination.ref,
      destinationFor: () => writer,
      compartmentTypes: new Set(['Patient']),
      now: () => new Date(),
    };
  }

  /** `target` with `method` replaced by one that fails as a process dying at that call would. */
  function dyingAt<T extends object>(target: T, method: keyof T): T {
    return Object.assign(Object.create(target) as T, {
      [method]: () => Promise.reject(new Error(`the process died at ${String(method)}`)),
    });
  }

  async function lines(blobName: string): Promise<string[]> {
    const text = (await destination.containerClient.getBlobClient(blobName).downloadToBuffer()).toString(
      'utf8',
    );
    return text.split('\n').filter((l) => l !== '');
  }

  it('given a completion that died after its commit and one that died before it, when the completion runs again, then the file holds each warning exactly once', async () => {
    const jobId = randomUUID();
    await jobs.createJob(runningJob(jobId, { warnings: WARNINGS, destination: destination.ref }));

    // Staged, not committed: the next attempt must still write the file.
    await expect(completeJob(depsWith(jobs, dyingAt(destination, 'commitBlocks')), jobId)).rejects.toThrow(
      /died/,
    );
    // Committed, but the job was never marked Completed: the next attempt finds the file written.
    await expect(completeJob(depsWith(dyingAt(jobs, 'replaceJob'), destination), jobId)).rejects.toThrow(
      /died/,
    );
    const blobName = `${jobId}/${WARNINGS_FILE}`;
    expect(await lines(blobName)).toHaveLength(WARNINGS.length);

    expect(await completeJob(depsWith(jobs, destination), jobId)).toEqual({ outcome: 'completed' });
    const written = await lines(blobName);
    expect(
      written.map((l) => (JSON.parse(l) as { issue: Array<{ diagnostics: string }> }).issue[0].diagnostics),
    ).toEqual(WARNINGS);
    const job = await jobs.getJob(jobId);
    expect(job?.status).toBe('Completed');
    expect(job?.errorFiles).toEqual([
      expect.objectContaining({ type: 'OperationOutcome', blobName, count: WARNINGS.length }),
    ]);
  });
});
