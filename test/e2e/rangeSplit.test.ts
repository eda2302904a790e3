/**
 * Large types split into time ranges (EXPORT_RANGE_SPLIT_THRESHOLD set low): the export still holds
 * the source exactly, survives a crash, and a cancel stops every range's orchestration.
 */
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { AppProcess } from '../support/appProcess';
import {
  downloadSummary,
  jobIdOf,
  listBlobs,
  managementOf,
  readJobRecord,
  traceFileOf,
  sortedExpectation,
  waitForExit,
  waitForRuntimeStatus,
} from '../support/e2eHelpers';
import { generateDataset } from '../../dev/demo/syntheticFhir';
import { expectedKeys, seedPatients } from '../support/exportFixtures';
import {
  GATED_SOURCE_APP_ENV,
  holdRunningExport,
  startGatedFhirSource,
  type GatedFhirSource,
} from '../support/gatedFhirSource';

const PATIENTS = 12;
const THRESHOLD = 20;
const expected = sortedExpectation(expectedKeys(PATIENTS));
const splitEnv = { EXPORT_RANGE_SPLIT_THRESHOLD: String(THRESHOLD), EXPORT_MAX_RANGES_PER_TYPE: '4' };

async function kickoff(client: BulkDataClient): Promise<{ pollUrl: string; statusQueryGetUri: string }> {
  const response = await client.kickoff('$export', { headers: { 'Cache-Control': 'no-cache' } });
  expect(response.status).toBe(202);
  return {
    pollUrl: response.pollUrl as string,
    statusQueryGetUri: managementOf(response.body).statusQueryGetUri,
  };
}

describe('a system export with Observation split into time ranges', () => {
  const app = new AppProcess({ env: { EXPORT_RESOURCES_PER_PAGE: '7', ...splitEnv } });
  let client: BulkDataClient;

  beforeAll(async () => {
    await seedPatients(app, PATIENTS);
    client = new BulkDataClient(await app.start());
  });
  afterAll(() => app.dispose());

  it('given more Observations than the threshold, when a system export runs, then the files hold exactly the source and the manifest lists several Observation files whose counts add up', async () => {
    expect(expected.Observation.length).toBeGreaterThan(THRESHOLD * 2);
    const { pollUrl, statusQueryGetUri } = await kickoff(client);
    const manifest = await client.waitForManifest(pollUrl, { timeoutMs: 90_000, maxIntervalMs: 500 });
    const { ids, duplicates } = await downloadSummary(client, manifest);
    expect(duplicates).toEqual([]);
    expect(ids).toEqual(expected);

    const observationFiles = manifest.output.filter((o) => o.type === 'Observation');
    expect(observationFiles.length).toBeGreaterThan(1);
    expect(observationFiles.every((o) => /\/Observation-r\d+-\d+\.ndjson$/.test(o.url))).toBe(true);
    expect(observationFiles.reduce((n, o) => n + (o.count ?? 0), 0)).toBe(expected.Observation.length);
    // Sorted by type, then range, then part.
    const types = manifest.output.map((o) => o.type);
    expect(types).toEqual([...types].sort());

    const job = await readJobRecord(app, jobIdOf(pollUrl));
    const ranges = (job.plannedUnits ?? []).filter((u) => u.resourceType === 'Observation');
    expect(ranges.map((u) => u.unitId).sort()).toEqual(ranges.map((_, i) => `Observation.r${i + 1}`));
    expect(ranges.length).toBeGreaterThan(1);

    // The orchestration's summary adds the ranges up per type.
    const status = await waitForRuntimeStatus(statusQueryGetUri, ['Completed']);
    const summary = (status.customStatus as { types: Record<string, { resources: number; state: string }> })
      .types;
    expect(summary.Observation).toMatchObject({ state: 'done', resources: expected.Observation.length });
  });
});

describe('a split export that crashes after writing a page', () => {
  const env: Record<string, string> = { EXPORT_RESOURCES_PER_PAGE: '5', ...splitEnv };
  const app = new AppProcess({ env });
  beforeAll(() => seedPatients(app, PATIENTS));
  afterAll(() => app.dispose());

  it('given an app that crashes after the written phase of page 1 of some range, when it is restarted, then the export holds every resource exactly once', async () => {
    env.LOCAL_CRASH_AT = 'written:1';
    rmSync(path.join(app.dataDir, 'crash-injected'), { force: true });
    const client = new BulkDataClient(await app.start());
    const { pollUrl } = await kickoff(client);

    await waitForExit(app);
    // The lanes start with the largest units, Observation's ranges: one of them crashed.
    expect(readFileSync(path.join(app.dataDir, 'crash-injected'), 'utf8')).toMatch(
      /^written:1 \S+ Observation\.r\d+\n$/,
    );
    await app.start();

    const manifest = await client.waitForManifest(pollUrl, { timeoutMs: 90_000, maxIntervalMs: 1000 });
    const { ids, duplicates } = await downloadSummary(client, manifest);
    expect(duplicates).toEqual([]);
    expect(ids).toEqual(expected);
    expect(manifest.output.filter((o) => o.type === 'Observation').length).toBeGreaterThan(1);
  });
});

describe('cancelling a split export', () => {
  // Page searches after the first few are held until the test lets them through: the export is
  // certainly still running when it is cancelled, on a busy machine or a quiet one.
  const LANES = 2;
  let source: GatedFhirSource;
  let app: AppProcess;
  let client: BulkDataClient;

  beforeAll(async () => {
    source = await startGatedFhirSource([...generateDataset({ patients: PATIENTS, seed: 1 })]);
    const env: Record<string, string> = {
      SOURCE_KIND: 'fhir',
      FHIR_SOURCE_URL: source.baseUrl,
      EXPORT_RESOURCES_PER_PAGE: '2',
      EXPORT_TYPE_PARALLELISM: String(LANES),
      ...GATED_SOURCE_APP_ENV,
      ...splitEnv,
    };
    app = new AppProcess({ env });
    env.DURABLE_TRACE_FILE = traceFileOf(app);
    client = new BulkDataClient(await app.start());
  });
  afterAll(async () => {
    await app?.dispose();
    await source?.close();
  });

  it('given a running split export, when it is cancelled, then every unit orchestration, range or not, ends and no file is left', async () => {
    const { pollUrl, statusQueryGetUri } = await kickoff(client);
    const jobId = jobIdOf(pollUrl);
    // Cancelled once files exist and while each lane's page step waits for its page at the source.
    const held = await holdRunningExport(source, app, { jobId, lanes: LANES });
    const units = (await readJobRecord(app, jobId)).plannedUnits ?? [];
    expect(units.filter((u) => u.rangeIndex !== undefined).length).toBeGreaterThan(1);

    expect(await client.cancel(pollUrl)).toBe(202);
    // The job's own instance is terminated before its lanes, so no lane's end reaches it first.
    expect(
      (await waitForRuntimeStatus(statusQueryGetUri, ['Terminated', 'Completed', 'Failed'])).runtimeStatus,
    ).toBe('Terminated');
    expect((await readJobRecord(app, jobId)).status).toBe('Cancelled');

    // Every unit that started ends Terminated (or had already finished); none runs on. A real
    // engine stops an instance when it takes the terminate message from its queue, so each unit
    // is awaited until it reaches an end.
    let started = 0;
    for (const unit of units) {
      const uri = statusQueryGetUri.replace(jobId, `${jobId}:${unit.unitId}`);
      const response = await fetch(uri);
      await response.arrayBuffer();
      if (response.status === 404) continue;
      started += 1;
      const status = await waitForRuntimeStatus(uri, ['Terminated', 'Completed', 'Failed']);
      expect(['Terminated', 'Completed']).toContain(status.runtimeStatus);
    }
    expect(started).toBeGreaterThan(0);
    // The page steps that were waiting on the source when the cancel came get their pages now: each
    // ends stopped, and what it may have written is gone.
    expect(await held.release()).toEqual(Array(LANES).fill('stopped'));
    expect(await listBlobs(app, `${jobId}/`)).toEqual([]);
  });
});
