/** Cancelling (DELETE on the poll URL) a running export, deleting a completed one, and an unknown job. */
import { randomUUID } from 'node:crypto';
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { AppProcess } from '../support/appProcess';
import {
  durableStatus,
  jobIdOf,
  listBlobs,
  managementOf,
  traceFileOf,
  waitForRuntimeStatus,
} from '../support/e2eHelpers';
import { generateDataset } from '../../dev/demo/syntheticFhir';
import {
  GATED_SOURCE_APP_ENV,
  holdRunningExport,
  startGatedFhirSource,
  type GatedFhirSource,
} from '../support/gatedFhirSource';

describe('cancelling exports end to end', () => {
  // A source that holds page searches (after the first few) until the test lets them through: the
  // export is certainly still running when it is cancelled, however fast or busy the machine is.
  const LANES = 2;
  let source: GatedFhirSource;
  let app: AppProcess;
  let client: BulkDataClient;

  beforeAll(async () => {
    source = await startGatedFhirSource([...generateDataset({ patients: 12, seed: 1 })]);
    const env: Record<string, string> = {
      SOURCE_KIND: 'fhir',
      FHIR_SOURCE_URL: source.baseUrl,
      EXPORT_RESOURCES_PER_PAGE: '4',
      EXPORT_TYPE_PARALLELISM: String(LANES),
      ...GATED_SOURCE_APP_ENV,
    };
    app = new AppProcess({ env });
    env.DURABLE_TRACE_FILE = traceFileOf(app);
    client = new BulkDataClient(await app.start());
  });
  afterAll(async () => {
    await app?.dispose();
    await source?.close();
  });

  async function pollStatus(pollUrl: string): Promise<number> {
    const response = await fetch(pollUrl);
    await response.arrayBuffer();
    return response.status;
  }

  it('given a running export with files written, when it is cancelled, then 202, polls answer 404, its files are gone for good and the orchestration is Terminated', async () => {
    const kickoff = await client.kickoff('$export');
    expect(kickoff.status).toBe(202);
    const pollUrl = kickoff.pollUrl as string;
    const jobId = jobIdOf(pollUrl);
    const { statusQueryGetUri } = managementOf(kickoff.body);

    // Cancel once files exist, so that the deletion is observable, and while each lane's page step
    // waits for its page at the source.
    const held = await holdRunningExport(source, app, { jobId, lanes: LANES });
    expect(await pollStatus(pollUrl)).toBe(202);

    expect(await client.cancel(pollUrl)).toBe(202);
    expect(await pollStatus(pollUrl)).toBe(404);
    expect(await listBlobs(app, `${jobId}/`)).toEqual([]);

    expect(
      (await waitForRuntimeStatus(statusQueryGetUri, ['Terminated', 'Completed', 'Failed'])).runtimeStatus,
    ).toBe('Terminated');
    // The page steps that were waiting on the source when the cancel came get their pages now: each
    // ends stopped, and what it may have written is gone.
    expect(await held.release()).toEqual(Array(LANES).fill('stopped'));
    expect(await listBlobs(app, `${jobId}/`)).toEqual([]);
    expect(await pollStatus(pollUrl)).toBe(404);
    expect((await durableStatus(statusQueryGetUri)).runtimeStatus).toBe('Terminated');
    // No orchestration of the job lives on: its lanes end too (their next unit finds the job cancelled).
    for (const lane of [':lane-0', ':lane-1']) {
      const laneUri = statusQueryGetUri.replace(jobId, `${jobId}${lane}`);
      expect(['Completed', 'Terminated']).toContain(
        (await waitForRuntimeStatus(laneUri, ['Completed', 'Terminated', 'Failed'])).runtimeStatus,
      );
    }
  });

  it('given a completed export, when it is deleted, then 202, its files are removed and polls answer 404', async () => {
    const kickoff = await client.kickoff('$export', { query: '_type=Patient' });
    expect({ status: kickoff.status, body: kickoff.body }).toMatchObject({ status: 202 });
    const pollUrl = kickoff.pollUrl as string;
    const manifest = await client.waitForManifest(pollUrl, { timeoutMs: 60_000, maxIntervalMs: 1000 });
    expect(manifest.output.length).toBeGreaterThan(0);
    const jobId = jobIdOf(pollUrl);
    expect((await listBlobs(app, `${jobId}/`)).length).toBeGreaterThan(0);

    expect(await client.cancel(pollUrl)).toBe(202);
    expect(await listBlobs(app, `${jobId}/`)).toEqual([]);
    expect(await pollStatus(pollUrl)).toBe(404);
    const file = await fetch(manifest.output[0].url);
    expect(file.status).toBe(404);
  });

  it('given an unknown job id, when it is deleted, then 404 with an OperationOutcome', async () => {
    const response = await fetch(`${client.baseUrl}/_operations/export/${randomUUID()}`, {
      method: 'DELETE',
    });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });
});
