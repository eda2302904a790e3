/**
 * The organized unit (`organizeOutputBy=Patient`, organizedOutput.ts) with the real adapters: a step
 * whose checkpoint is lost after its commit, and a duplicate delivery, leave every resource once in
 * its patient's block.
 */
import { randomUUID } from 'node:crypto';
import { exportConfigFromEnv } from '../../../src/config';
import { BlobExportDestination, getBlobServiceClient } from '../../../src/destination/blobExportDestination';
import type { ExportDeps } from '../../../src/export/exportDeps';
import { completeJob, startJob } from '../../../src/export/jobActions';
import { newJobRecord } from '../../../src/export/kickoff';
import type { ExportJobRecord } from '../../../src/export/model';
import { ORGANIZED_UNIT_ID } from '../../../src/export/organizedOutput';
import { runPageStep } from '../../../src/export/pageStep';
import { ProgressCache } from '../../../src/export/progressCache';
import { RunningJobCache } from '../../../src/export/runningJobCache';
import { getCosmosClient } from '../../../src/jobs/cosmosClient';
import { createCosmosJobStore, type CosmosJobStore } from '../../../src/jobs/cosmosJobStore';
import { createCosmosResourceWriter } from '../../../dev/demo/cosmosResourceWriter';
import { createCosmosSearchSource } from '../../../src/sources/cosmosSource';
import { generateDataset } from '../../../dev/demo/syntheticFhir';
import { defaultOrchestrationSettings, exportRequest } from '../../support/exportRequests';
import { testConnectionInfo, uniqueName } from '../../support/testEnv';

const PAGE_SIZE = 5;
const TYPES = ['Patient', 'Condition', 'Observation'];

describe('the organized unit with real adapters', () => {
  const database = uniqueName('organized');
  const container = uniqueName('organized');
  let deps: ExportDeps;
  let jobs: CosmosJobStore;
  let destination: BlobExportDestination;
  const seeded = [...generateDataset({ patients: 3, seed: 2 })].filter((r) => TYPES.includes(r.resourceType));

  beforeAll(async () => {
    const info = testConnectionInfo();
    const cosmos = getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey });
    jobs = await createCosmosJobStore({ client: cosmos, databaseId: database, containerId: 'jobs' });
    const writer = await createCosmosResourceWriter(cosmos, database, 'resources');
    await writer.upsertAll(seeded as never);
    const source = await createCosmosSearchSource(cosmos, database, 'resources');
    const blobService = getBlobServiceClient({ connectionString: info.storageConnectionString, maxTries: 1 });
    destination = new BlobExportDestination(blobService, container);
    deps = {
      jobs,
      runningJobs: new RunningJobCache((jobId) => jobs.getJob(jobId), 0),
      progressCache: new ProgressCache(0),
      source,
      config: { ...exportConfigFromEnv({}), resourcesPerPage: PAGE_SIZE, fileRollBytes: 2048 },
      destinationRef: destination.ref,
      destinationFor: () => destination,
      compartmentTypes: new Set(TYPES),
      now: () => new Date(),
    };
  });
  afterAll(() => destination.containerClient.deleteIfExists());

  async function organizedJob(): Promise<ExportJobRecord> {
    const jobId = randomUUID();
    await jobs.createJob(
      newJobRecord({
        jobId,
        now: new Date(),
        request: exportRequest({
          level: 'patient',
          requestUrl: 'http://localhost/Patient/$export?organizeOutputBy=Patient',
          types: TYPES,
          organizeOutputBy: 'Patient',
        }),
        requestHash: jobId,
        destination: destination.ref,
        clientId: 'test',
        orchestration: defaultOrchestrationSettings(),
      }),
    );
    expect((await startJob(deps, jobId)).outcome).toBe('started');
    return (await jobs.getJob(jobId)) as ExportJobRecord;
  }

  /** Every line of the job's organized files, in manifest order. */
  async function allLines(jobId: string): Promise<Array<Record<string, unknown>>> {
    await completeJob(deps, jobId);
    const job = (await jobs.getJob(jobId)) as ExportJobRecord;
    const lines: Array<Record<string, unknown>> = [];
    for (const file of job.output ?? []) {
      const text = (
        await destination.containerClient.getBlobClient(file.blobName).downloadToBuffer()
      ).toString();
      lines.push(
        ...text
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
    }
    return lines;
  }

  function expectEachResourceOnce(lines: Array<Record<string, unknown>>): void {
    const resources = lines.filter((l) => l.resourceType !== 'Parameters');
    const keys = resources.map((r) => `${String(r.resourceType)}/${String(r.id)}`).sort();
    expect(keys).toEqual(seeded.map((r) => `${r.resourceType}/${r.id}`).sort());
  }

  it('plans one unit holding the types, Patient first', async () => {
    const job = await organizedJob();
    expect(job.plannedUnits).toEqual([
      {
        unitId: ORGANIZED_UNIT_ID,
        resourceType: 'Patient',
        organizedTypes: ['Patient', 'Condition', 'Observation'],
      },
    ]);
  });

  it('given checkpoints lost after their commits, when the steps run again, then each resource is written once', async () => {
    const job = await organizedJob();
    let lose = true;
    const store = Object.assign(Object.create(jobs) as CosmosJobStore, {
      checkpointProgress: (next: Parameters<CosmosJobStore['checkpointProgress']>[0]) =>
        lose ? Promise.reject(new Error('checkpoint lost')) : jobs.checkpointProgress(next),
    });
    const losing: ExportDeps = { ...deps, jobs: store };
    for (let i = 0; i < 200; i++) {
      // Every other step first runs on a process whose checkpoint is lost after its commit.
      lose = i % 2 === 0;
      const result = await runPageStep(losing, job.jobId, ORGANIZED_UNIT_ID).catch(() => undefined);
      if (result?.outcome === 'written' && result.done) break;
    }
    expectEachResourceOnce(await allLines(job.jobId));
  });

  it('given a duplicate delivery of each step, when both run at once, then each resource is written once', async () => {
    const job = await organizedJob();
    for (let i = 0; i < 200; i++) {
      const [first] = await Promise.all([
        runPageStep(deps, job.jobId, ORGANIZED_UNIT_ID),
        runPageStep(deps, job.jobId, ORGANIZED_UNIT_ID),
      ]);
      if (first.outcome === 'written' && first.done) break;
    }
    const lines = await allLines(job.jobId);
    expectEachResourceOnce(lines);
    expect((await jobs.getJob(job.jobId))?.output?.length).toBeGreaterThan(1);
  });
});
