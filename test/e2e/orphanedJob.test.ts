import { randomUUID } from 'node:crypto';
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { getBlobServiceClient } from '../../src/destination/blobExportDestination';
import { newJobRecord } from '../../src/export/kickoff';
import { getCosmosClient } from '../../src/jobs/cosmosClient';
import { createCosmosJobStore } from '../../src/jobs/cosmosJobStore';
import { AppProcess } from '../support/appProcess';
import { defaultOrchestrationSettings, exportRequest } from '../support/exportRequests';
import { downloadAll, expectedKeys, idsByType, seedPatients } from '../support/exportFixtures';
import { testConnectionInfo } from '../support/testEnv';

describe('a job whose orchestration never started', () => {
  const app = new AppProcess();
  const PATIENTS = 3;
  let client: BulkDataClient;

  beforeAll(async () => {
    await seedPatients(app, PATIENTS);
    client = new BulkDataClient(await app.start());
  });
  afterAll(() => app.dispose());

  it('given a Queued job left by a process that died before starting it, when it is polled, then it runs to completion', async () => {
    // What a kick-off leaves when its process dies between creating the record and starting the orchestration.
    const info = testConnectionInfo();
    const jobs = await createCosmosJobStore({
      client: getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey }),
      databaseId: app.database,
      containerId: 'jobs',
    });
    const jobId = randomUUID();
    await jobs.createJob(
      newJobRecord({
        jobId,
        now: new Date(Date.now() - 60_000),
        request: exportRequest({ requestUrl: `${client.baseUrl}/$export` }),
        requestHash: jobId,
        destination: {
          accountUrl: getBlobServiceClient({ connectionString: info.storageConnectionString }).url,
          container: app.container,
        },
        clientId: 'anonymous',
        orchestration: defaultOrchestrationSettings(),
      }),
    );

    const manifest = await client.waitForManifest(`${client.baseUrl}/_operations/export/${jobId}`, {
      timeoutMs: 60_000,
    });
    const { resources } = await downloadAll(client, manifest);
    const expected = Object.fromEntries([...expectedKeys(PATIENTS)].map(([t, ids]) => [t, [...ids].sort()]));
    expect(idsByType(resources)).toEqual(expected);
  });
});
