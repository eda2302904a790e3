/**
 * Every job reaches an end. The failures are real: activities made to throw in the app process
 * (LOCAL_FAIL_ACTIVITY), orchestrations terminated and purged through the durable management API,
 * a crash followed by a restart with other settings; the durable runtime and its retries are the
 * real ones of the test run.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { newJobRecord } from '../../src/export/kickoff';
import type { ExportJobRecord } from '../../src/export/model';
import { getCosmosClient } from '../../src/jobs/cosmosClient';
import { jobInstanceIds } from '../../functions/names';
import { AppProcess } from '../support/appProcess';
import {
  downloadSummary,
  durableStatus,
  eventually,
  jobIdOf,
  listBlobs,
  managementOf,
  readJobRecord,
  runSweeper,
  sortedExpectation,
  waitForExit,
  waitForRuntimeStatus,
} from '../support/e2eHelpers';
import { defaultOrchestrationSettings, exportRequest } from '../support/exportRequests';
import { expectedKeys, seedPatients } from '../support/exportFixtures';
import { testConnectionInfo } from '../support/testEnv';

const PATIENTS = 4;
const expected = sortedExpectation(expectedKeys(PATIENTS));
const FAST_RETRIES = {
  EXPORT_RETRY_MAX_ATTEMPTS: '2',
  EXPORT_RETRY_FIRST_INTERVAL_MS: '100',
  EXPORT_RETRY_MAX_INTERVAL_MS: '300',
};

interface Started {
  jobId: string;
  pollUrl: string;
  statusQueryGetUri: string;
  terminatePostUri: string;
}

async function kickoff(client: BulkDataClient): Promise<Started> {
  const response = await client.kickoff('$export', { headers: { 'Cache-Control': 'no-cache' } });
  expect(response.status).toBe(202);
  const management = managementOf(response.body);
  const pollUrl = response.pollUrl as string;
  return { jobId: jobIdOf(pollUrl), pollUrl, ...management };
}

/** The poll URL's answer: status and, for an OperationOutcome, its diagnostics. */
async function poll(pollUrl: string): Promise<{ status: number; diagnostics?: string }> {
  const response = await fetch(pollUrl);
  const text = await response.text();
  if (response.status === 202 || response.status === 200) return { status: response.status };
  const outcome = JSON.parse(text) as { issue: Array<{ diagnostics?: string }> };
  return { status: response.status, diagnostics: outcome.issue[0]?.diagnostics };
}

async function waitForJobStatus(app: AppProcess, jobId: string, status: string) {
  return eventually(`job ${jobId} ${status}`, async () => {
    const job = await readJobRecord(app, jobId);
    return job.status === status ? job : undefined;
  });
}

async function terminate(started: Started): Promise<void> {
  const url = started.terminatePostUri.replace('{text}', encodeURIComponent('an operator stopped it'));
  const response = await fetch(url, { method: 'POST' });
  await response.arrayBuffer();
  expect(response.status).toBe(202);
  await waitForRuntimeStatus(started.statusQueryGetUri, ['Terminated']);
}

describe('a job whose end cannot be written at first', () => {
  const app = new AppProcess({ env: { ...FAST_RETRIES, LOCAL_FAIL_ACTIVITY: 'completeExportJob:4' } });
  let client: BulkDataClient;
  beforeAll(async () => {
    await seedPatients(app, PATIENTS);
    client = new BulkDataClient(await app.start());
  });
  afterAll(() => app.dispose());

  it('given the completion failing through two rounds of retries, when the export runs, then the orchestration waits, tries again, and the job completes exactly', async () => {
    const started = await kickoff(client);
    const manifest = await client.waitForManifest(started.pollUrl, { timeoutMs: 90_000, maxIntervalMs: 500 });
    const { ids, duplicates } = await downloadSummary(client, manifest);
    expect(duplicates).toEqual([]);
    expect(ids).toEqual(expected);

    const status = await waitForRuntimeStatus(started.statusQueryGetUri, ['Completed', 'Failed']);
    expect(status.runtimeStatus).toBe('Completed');
    const history = await fetch(`${started.statusQueryGetUri}&showHistory=true`).then(
      async (r) => (await r.json()) as { historyEvents: Array<{ EventType: string }> },
    );
    expect(history.historyEvents.filter((e) => e.EventType === 'TaskFailed').length).toBeGreaterThanOrEqual(
      4,
    );
  });
});

describe('a job whose end can never be written', () => {
  const app = new AppProcess({
    env: {
      ...FAST_RETRIES,
      EXPORT_JOB_END_DEADLINE_MINUTES: '0',
      LOCAL_FAIL_ACTIVITY: 'exportPage:*,failExportJob:*',
    },
  });
  let client: BulkDataClient;
  beforeAll(async () => {
    await seedPatients(app, PATIENTS);
    client = new BulkDataClient(await app.start());
  });
  afterAll(() => app.dispose());

  it('given pages and the failure write both failing, when the orchestration gives up, then the status endpoint answers the failure and the job record says Failed', async () => {
    const started = await kickoff(client);
    const status = await waitForRuntimeStatus(started.statusQueryGetUri, ['Completed', 'Failed'], 90_000);
    expect(status.runtimeStatus).toBe('Failed');
    expect((await readJobRecord(app, started.jobId)).status).toBe('Running');

    const answer = await poll(started.pollUrl);
    expect(answer.status).toBe(500);
    expect(answer.diagnostics).toMatch(/orchestration failed before it could record the end/);
    const job = await readJobRecord(app, started.jobId);
    expect(job.status).toBe('Failed');
    expect(job.failureDetails?.statusCode).toBe(500);
    // A failed job's files expire like a completed one's, and its record has a TTL.
    expect(job.expiresAt).toBeDefined();
    expect(job.ttl).toBe(90 * 86_400);
  });
});

describe('a job whose orchestration is stopped outside the export API', () => {
  // Every page fails and is retried every 2 s for minutes: the job is certainly still running.
  const app = new AppProcess({
    env: {
      EXPORT_RETRY_MAX_ATTEMPTS: '100',
      EXPORT_RETRY_FIRST_INTERVAL_MS: '2000',
      EXPORT_RETRY_BACKOFF: '1',
      EXPORT_TYPE_PARALLELISM: '2',
      LOCAL_FAIL_ACTIVITY: 'exportPage:*',
    },
  });
  let client: BulkDataClient;
  beforeAll(async () => {
    await seedPatients(app, PATIENTS);
    client = new BulkDataClient(await app.start());
  });
  afterAll(() => app.dispose());

  async function runningJob(): Promise<Started> {
    const started = await kickoff(client);
    await waitForJobStatus(app, started.jobId, 'Running');
    return started;
  }

  it('given a running job whose orchestration an operator terminates, when it is polled, then it is Failed with a reason, and its lanes and units are stopped', async () => {
    const started = await runningJob();
    await terminate(started);

    const answer = await poll(started.pollUrl);
    expect(answer.status).toBe(500);
    expect(answer.diagnostics).toMatch(/terminated outside the export API/);
    expect((await readJobRecord(app, started.jobId)).status).toBe('Failed');

    const job = await readJobRecord(app, started.jobId);
    const units = (job.plannedUnits ?? []).map((u) => u.unitId);
    const instances = jobInstanceIds(started.jobId, units, 2).slice(1);
    let seen = 0;
    for (const instanceId of instances) {
      const uri = started.statusQueryGetUri.replace(started.jobId, encodeURIComponent(instanceId));
      const response = await fetch(uri);
      await response.arrayBuffer();
      if (response.status === 404) continue;
      seen += 1;
      const status = await waitForRuntimeStatus(uri, ['Terminated', 'Completed', 'Failed']);
      expect(status.runtimeStatus).toBe('Terminated');
    }
    expect(seen).toBeGreaterThan(0);
  });

  it('given a running job whose orchestration is terminated and purged, when it is polled, then it is Failed, not in progress', async () => {
    const started = await runningJob();
    await terminate(started);
    const purge = await fetch(started.statusQueryGetUri, { method: 'DELETE' });
    await purge.arrayBuffer();
    expect(purge.status).toBe(200);
    expect((await fetch(started.statusQueryGetUri)).status).toBe(404);

    const answer = await poll(started.pollUrl);
    expect(answer.status).toBe(500);
    // The sweeper may have come first and seen the terminated instance; either way the truth.
    expect(answer.diagnostics).toMatch(/no longer exists|terminated outside the export API/);
  });

  it('given a terminated job nobody polls, when the sweeper runs, then the job record says Failed', async () => {
    const started = await runningJob();
    await terminate(started);
    await runSweeper(app);
    const job = await waitForJobStatus(app, started.jobId, 'Failed');
    expect(job.failureDetails?.reason).toMatch(/terminated outside the export API/);
  });

  it('given a cancelled job whose files were never deleted, when the sweeper runs, then its files go and the record says so', async () => {
    const info = testConnectionInfo();
    const jobs = jobsContainer(app);
    const blobs = BlobServiceClient.fromConnectionString(info.storageConnectionString);
    const jobId = crypto.randomUUID();
    const record = newJobRecord({
      jobId,
      now: new Date(),
      request: exportRequest(),
      requestHash: jobId,
      destination: { accountUrl: blobs.url, container: app.container },
      clientId: 'anonymous',
      orchestration: defaultOrchestrationSettings(),
    });
    await jobs.items.create({ ...record, status: 'Cancelled', completedAt: new Date().toISOString() });
    const container = blobs.getContainerClient(app.container);
    await container.createIfNotExists();
    await container.getBlockBlobClient(`${jobId}/Patient-1.ndjson`).upload('{}\n', 3);
    expect(await listBlobs(app, `${jobId}/`)).toHaveLength(1);

    await runSweeper(app);
    const job = await eventually('the files deleted', async () => {
      const current = await readJobRecord(app, jobId);
      return current.filesDeletedAt ? current : undefined;
    });
    expect(job.status).toBe('Cancelled');
    expect(await listBlobs(app, `${jobId}/`)).toEqual([]);
  });
});

describe('retention of ended jobs', () => {
  const app = new AppProcess();
  let client: BulkDataClient;
  beforeAll(async () => {
    await seedPatients(app, PATIENTS);
    client = new BulkDataClient(await app.start());
  });
  afterAll(() => app.dispose());

  it('given a completed job past its expiry and its history retention, when the sweeper runs, then its files, durable history and progress documents go, and its record keeps a TTL', async () => {
    const started = await kickoff(client);
    await client.waitForManifest(started.pollUrl, { timeoutMs: 90_000, maxIntervalMs: 500 });
    await waitForRuntimeStatus(started.statusQueryGetUri, ['Completed']);
    expect((await listBlobs(app, `${started.jobId}/`)).length).toBeGreaterThan(0);

    // Eight days on: past the files' expiry (a day) and the history retention (a week).
    const jobs = jobsContainer(app);
    const { resource } = await jobs.item(started.jobId, started.jobId).read<ExportJobRecord>();
    const past = new Date(Date.now() - 8 * 86_400_000).toISOString();
    await jobs
      .item(started.jobId, started.jobId)
      .replace({ ...resource, completedAt: past, expiresAt: past });
    expect((await poll(started.pollUrl)).status).toBe(404);

    await runSweeper(app);
    const job = await eventually('the retention applied', async () => {
      const current = await readJobRecord(app, started.jobId);
      return current.filesDeletedAt && current.historyPurgedAt ? current : undefined;
    });
    expect(await listBlobs(app, `${started.jobId}/`)).toEqual([]);
    const status = await fetch(started.statusQueryGetUri);
    await status.arrayBuffer();
    expect(status.status).toBe(404);
    const { resources: progress } = await jobs.items
      .query({
        query: 'SELECT c.id FROM c WHERE c.jobId = @jobId AND c.docType = @docType',
        parameters: [
          { name: '@jobId', value: started.jobId },
          { name: '@docType', value: 'progress' },
        ],
      })
      .fetchAll();
    expect(progress).toEqual([]);
    expect(job.ttl).toBe(90 * 86_400);
    const { resource: definition } = await jobs.read();
    expect(definition?.defaultTtl).toBe(-1);
  });
});

describe('settings changed while a job runs', () => {
  const env: Record<string, string> = {
    EXPORT_RESOURCES_PER_PAGE: '3',
    EXPORT_TYPE_PARALLELISM: '4',
    EXPORT_PAGES_PER_CONTINUE_AS_NEW: '2',
    LOCAL_CRASH_AT: 'written:2',
  };
  const app = new AppProcess({ env });
  beforeAll(() => seedPatients(app, PATIENTS));
  afterAll(() => app.dispose());

  it('given a job that crashes mid-export, when the app restarts with other lanes, page and retry settings, then the job completes exactly with the settings it started with', async () => {
    const client = new BulkDataClient(await app.start());
    const started = await kickoff(client);
    await waitForExit(app);

    env.EXPORT_TYPE_PARALLELISM = '1';
    env.EXPORT_PAGES_PER_CONTINUE_AS_NEW = '7';
    env.EXPORT_RETRY_MAX_ATTEMPTS = '9';
    delete env.LOCAL_CRASH_AT;
    await app.start();

    const manifest = await client.waitForManifest(started.pollUrl, {
      timeoutMs: 120_000,
      maxIntervalMs: 1000,
    });
    const { ids, duplicates } = await downloadSummary(client, manifest);
    expect(duplicates).toEqual([]);
    expect(ids).toEqual(expected);
    expect((await durableStatus(started.statusQueryGetUri)).runtimeStatus).toBe('Completed');
    expect((await readJobRecord(app, started.jobId)).orchestration.typeParallelism).toBe(4);
  });
});

function jobsContainer(app: AppProcess) {
  const info = testConnectionInfo();
  return getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey })
    .database(app.database)
    .container('jobs');
}
