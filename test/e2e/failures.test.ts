/**
 * The failure table of the design, end to end: each cause ends in the documented failure details,
 * and the poll URL answers that status with an OperationOutcome naming the reason.
 */
import { BulkDataClient, BulkExportFailedError } from '../../dev/client/bulkDataClient';
import { generateDataset } from '../../dev/demo/syntheticFhir';
import { AppProcess } from '../support/appProcess';
import { countJobDocuments, downloadSummary, managementOf } from '../support/e2eHelpers';
import { expectedKeys, seedPatients } from '../support/exportFixtures';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy';
import { startFhirTestServer, type FhirTestServer } from '../support/fhirTestServer';
import { startTcpFaultProxy } from '../support/tcpFaultProxy';
import { testConnectionInfo } from '../support/testEnv';

const PATIENTS = 8;
const FAST_RETRIES = {
  EXPORT_RETRY_MAX_ATTEMPTS: '3',
  EXPORT_RETRY_FIRST_INTERVAL_MS: '100',
  EXPORT_RETRY_MAX_INTERVAL_MS: '300',
  EXPORT_STORAGE_MAX_TRIES: '1',
};

interface Outcome {
  resourceType: string;
  issue: Array<{ diagnostics?: string }>;
}

/** Kicks off, waits for the end, and returns the failure status and the OperationOutcome's text. */
async function expectExportToFail(
  client: BulkDataClient,
  path: string,
  query?: string,
): Promise<{ status: number; diagnostics: string }> {
  const kickoff = await client.kickoff(path, { query, headers: { 'Cache-Control': 'no-cache' } });
  expect(kickoff.status).toBe(202);
  const error = await client
    .waitForManifest(kickoff.pollUrl as string, { timeoutMs: 60_000, maxIntervalMs: 500 })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(BulkExportFailedError);
  const failed = error as BulkExportFailedError;
  // The status answer is an OperationOutcome served as FHIR JSON.
  const again = await fetch(kickoff.pollUrl as string);
  expect(again.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  const outcome = JSON.parse(failed.body) as Outcome;
  expect(outcome.resourceType).toBe('OperationOutcome');
  return { status: failed.status, diagnostics: outcome.issue.map((i) => i.diagnostics ?? '').join(' ') };
}

describe('destination failures', () => {
  const apps: AppProcess[] = [];
  afterAll(() => Promise.all(apps.map((a) => a.dispose())));

  async function appWithStorage(connectionString: string): Promise<BulkDataClient> {
    const app = new AppProcess({
      env: { ...FAST_RETRIES, EXPORT_STORAGE_CONNECTION_STRING: connectionString },
    });
    apps.push(app);
    await seedPatients(app, 2);
    return new BulkDataClient(await app.start());
  }

  it('given an unreachable storage endpoint, when exporting, then the job fails 400 naming the destination', async () => {
    const good = testConnectionInfo().storageConnectionString;
    // Port 9 (discard) on loopback: nothing listens, connections are refused at once.
    const closed = good.replace(/BlobEndpoint=http:\/\/[^/;]+/i, 'BlobEndpoint=http://127.0.0.1:9');
    expect(closed).not.toBe(good);
    const client = await appWithStorage(closed);
    const { status, diagnostics } = await expectExportToFail(client, '$export', '_type=Patient');
    expect(status).toBe(400);
    expect(diagnostics).toMatch(/cannot be reached/);
  });

  it('given storage with a wrong account key, when exporting, then the job fails 403 naming the refusal', async () => {
    const wrongKey = testConnectionInfo().storageConnectionString.replace(
      /AccountKey=[^;]+/,
      `AccountKey=${Buffer.from('not the key of this account').toString('base64')}`,
    );
    const client = await appWithStorage(wrongKey);
    const { status, diagnostics } = await expectExportToFail(client, '$export', '_type=Patient');
    expect(status).toBe(403);
    expect(diagnostics).toMatch(/refused access/);
  });

  it('given a finished export whose storage then cannot be reached, when a file is downloaded, then 503 with Retry-After until storage is back, and a cancel is recorded with its files left to the sweeper', async () => {
    const info = testConnectionInfo();
    const blob = new URL(info.blobEndpoint);
    const proxy = await startTcpFaultProxy({ host: blob.hostname, port: Number(blob.port) });
    try {
      const through = new URL(info.blobEndpoint);
      through.port = String(proxy.port);
      const connection = info.storageConnectionString.replace(
        /BlobEndpoint=[^;]+/i,
        `BlobEndpoint=${through.toString().replace(/\/$/, '')}`,
      );
      const client = await appWithStorage(connection);
      const kickoff = await client.kickoff('$export', {
        query: '_type=Patient',
        headers: { 'Cache-Control': 'no-cache' },
      });
      const manifest = await client.waitForManifest(kickoff.pollUrl as string, { timeoutMs: 60_000 });
      const fileUrl = manifest.output[0].url;

      proxy.refuse();
      const download = await fetch(fileUrl);
      expect(download.status).toBe(503);
      expect(download.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await download.json()) as Outcome).resourceType).toBe('OperationOutcome');
      proxy.accept();
      expect((await client.download(fileUrl)).length).toBeGreaterThan(0);

      // The cancel is recorded whatever storage does; the sweeper deletes the files later.
      proxy.refuse();
      const cancel = await fetch(kickoff.pollUrl as string, { method: 'DELETE' });
      expect(cancel.status).toBe(202);
      expect(((await cancel.json()) as Outcome).issue[0].diagnostics).toMatch(/once storage can be reached/);
      proxy.accept();
      const poll = await fetch(kickoff.pollUrl as string);
      await poll.arrayBuffer();
      expect(poll.status).toBe(404);
    } finally {
      await proxy.close();
    }
  });
});

describe('resource not found and bad settings', () => {
  const app = new AppProcess({ env: FAST_RETRIES });
  let client: BulkDataClient;
  beforeAll(async () => {
    await seedPatients(app, 2);
    client = new BulkDataClient(await app.start());
  });
  afterAll(() => app.dispose());

  it('given an unknown Group, when exporting it, then the kick-off answers 404 naming the group and creates no job', async () => {
    // The source is asked at kick-off; a Group that vanishes after it fails the job with 404
    // (test/integration/export/pageStep.test.ts covers that path).
    const before = await countJobDocuments(app);
    const kickoff = await client.kickoff('Group/no-such-group/$export', {
      headers: { 'Cache-Control': 'no-cache' },
    });
    expect(kickoff.status).toBe(404);
    expect(kickoff.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const outcome = JSON.parse(kickoff.body) as Outcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue.map((i) => i.diagnostics).join(' ')).toMatch(/Group no-such-group/);
    expect(await countJobDocuments(app)).toBe(before);
  });

  it.each([
    [{ EXPORT_RESOURCES_PER_PAGE: 'abc' }, /EXPORT_RESOURCES_PER_PAGE/],
    [{ AUTH_MODE: 'jwt', AUTH_ISSUER: '' }, /AUTH_ISSUER/],
    [{ SOURCE_KIND: 'fhir', FHIR_SOURCE_URL: '' }, /FHIR_SOURCE_URL/],
  ])('given %j, when the app starts, then it exits non-zero naming the setting', async (env, named) => {
    const bad = new AppProcess({ env });
    try {
      const error = await bad.start().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toMatch(/app exited early \(1\)/);
      expect(bad.output).toMatch(named);
    } finally {
      await bad.dispose();
    }
  });
});

interface ViewEvent {
  EventType: string;
  Timestamp: string;
  FireAt?: string;
  Result?: { outcome?: string };
}

/**
 * The throttling waits of one unit (or, without a unit, of the job's start), read from its durable
 * history (the management API's view): for each activity that answered `throttled`, how far past
 * that answer the next timer was set to fire.
 */
async function throttleWaits(
  statusQueryGetUri: string,
  unitId?: string,
): Promise<Array<{ askedMs: number }>> {
  const url = new URL(statusQueryGetUri);
  const jobId = decodeURIComponent(url.pathname.slice(url.pathname.lastIndexOf('/') + 1));
  if (unitId !== undefined) {
    url.pathname = url.pathname.replace(/[^/]+$/, encodeURIComponent(`${jobId}:${unitId}`));
  }
  url.searchParams.set('showHistory', 'true');
  url.searchParams.set('showHistoryOutput', 'true');
  const status = (await (await fetch(url)).json()) as { historyEvents: ViewEvent[] };
  const waits: Array<{ askedMs: number }> = [];
  status.historyEvents.forEach((event, i) => {
    if (event.EventType !== 'TaskCompleted' || event.Result?.outcome !== 'throttled') return;
    const timer = status.historyEvents.slice(i + 1).find((e) => e.EventType === 'TimerCreated');
    if (timer?.FireAt) waits.push({ askedMs: Date.parse(timer.FireAt) - Date.parse(event.Timestamp) });
  });
  return waits;
}

describe('FHIR REST source failures (through a fault proxy)', () => {
  let server: FhirTestServer;
  let proxy: FaultProxy;
  let app: AppProcess;
  let client: BulkDataClient;
  // Page searches only: faults on the planning request that counts the type (`_summary=count`, used
  // to decide on time ranges) end in the job's start, not in the page step.
  const patientSearch = (request: { url: string }) =>
    /\/Patient(\?|$)/.test(request.url) && !request.url.includes('_summary=count');

  beforeAll(async () => {
    server = await startFhirTestServer();
    await server.seed(
      [...generateDataset({ patients: PATIENTS, seed: 1 })].filter((r) => r.resourceType === 'Patient'),
    );
    proxy = await startFaultProxy(server.baseUrl);
    app = new AppProcess({
      env: {
        ...FAST_RETRIES,
        SOURCE_KIND: 'fhir',
        FHIR_SOURCE_URL: proxy.baseUrl,
        EXPORT_RESOURCES_PER_PAGE: '3',
        // Every kick-off with _type reads the CapabilityStatement, so a fault on it is met there.
        FHIR_SOURCE_TYPES_CACHE_SECONDS: '0',
      },
    });
    client = new BulkDataClient(await app.start());
  });
  afterEach(() => proxy.clearRules());
  afterAll(async () => {
    await app?.dispose();
    await proxy?.close();
    await server?.close();
  });

  const reject = (status: number, diagnostics: string) => ({
    match: patientSearch,
    action: {
      kind: 'status' as const,
      status,
      body: {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'security', diagnostics }],
      },
    },
  });

  it.each([
    [400, 'unknown search parameter _lastUpdated'],
    [401, 'the access token has expired'],
    [403, 'this client may not read Patient'],
  ])(
    'given a source that answers %i, when exporting, then the job fails with that status and the source reason',
    async (code, reason) => {
      proxy.addRule(reject(code, reason));
      const { status, diagnostics } = await expectExportToFail(client, '$export', '_type=Patient');
      expect(status).toBe(code);
      expect(diagnostics).toContain(reason);
    },
  );

  it('given a source whose search answers 404 mid-job, when exporting, then the job fails 502 with the source reason, never 404 (which a poller reads as "no such job")', async () => {
    const reason = 'Resource type Patient is not supported by this server';
    proxy.addRule(reject(404, reason));
    const { status, diagnostics } = await expectExportToFail(client, '$export', '_type=Patient');
    expect(status).toBe(502);
    expect(diagnostics).toContain(
      `The data source failed the search for a page: source rejected the request (404): ${reason}`,
    );
  });

  /** A kick-off with `_type=Patient` whose CapabilityStatement request meets `action`; no job may be made. */
  async function kickoffWithMetadata(action: Parameters<FaultProxy['addRule']>[0]['action'], times?: number) {
    proxy.addRule({ match: (r) => r.url.endsWith('/metadata'), times, action });
    const jobsBefore = await countJobDocuments(app);
    const before = proxy.requests.length;
    const answer = await client.kickoff('$export', {
      query: '_type=Patient',
      headers: { 'Cache-Control': 'no-cache' },
    });
    const metadataReads = proxy.requests.slice(before).filter((r) => r.url.endsWith('/metadata')).length;
    return { answer, metadataReads, jobsMade: (await countJobDocuments(app)) - jobsBefore };
  }

  it('given a CapabilityStatement that stays unavailable (503) at kick-off, when kicking off with _type, then 503 with Retry-After and no job', async () => {
    const { answer, metadataReads, jobsMade } = await kickoffWithMetadata({ kind: 'status', status: 503 });
    expect(answer.status).toBe(503);
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((JSON.parse(answer.body) as Outcome).resourceType).toBe('OperationOutcome');
    expect(answer.body).toMatch(/data source is unavailable/);
    expect(metadataReads).toBe(3);
    expect(jobsMade).toBe(0);
  });

  it('given a CapabilityStatement unavailable once (503) at kick-off, when kicking off with _type, then it is asked again and the kick-off is accepted', async () => {
    const { answer, metadataReads } = await kickoffWithMetadata({ kind: 'status', status: 503 }, 1);
    expect(answer.status).toBe(202);
    expect(metadataReads).toBe(2);
    await client.waitForManifest(answer.pollUrl as string, { timeoutMs: 60_000, maxIntervalMs: 500 });
  });

  it('given a CapabilityStatement the source refuses (404) at kick-off, when kicking off with _type, then 502 naming it and no job', async () => {
    const { answer, metadataReads, jobsMade } = await kickoffWithMetadata({ kind: 'status', status: 404 });
    expect(answer.status).toBe(502);
    expect(answer.body).toMatch(/cannot tell which resource types it supports.*CapabilityStatement/);
    expect(metadataReads).toBe(1);
    expect(jobsMade).toBe(0);
  });

  it('given a source that answers 410 Gone to a new search, when exporting, then the job fails with 502 (a fault of the source, not of the request)', async () => {
    proxy.addRule(reject(410, 'search gone'));
    const { status, diagnostics } = await expectExportToFail(client, '$export', '_type=Patient');
    expect(status).toBe(502);
    expect(diagnostics).toContain('410 Gone to a new search of Patient');
  });

  /**
   * Exports with `query` (a source that has only Patients, or `_type=Patient`), checks the files hold
   * exactly the Patients, and returns the durable status URL of the job.
   */
  async function expectExactPatients(query?: string): Promise<string> {
    const kickoff = await client.kickoff('$export', { query, headers: { 'Cache-Control': 'no-cache' } });
    const manifest = await client.waitForManifest(kickoff.pollUrl as string, {
      timeoutMs: 60_000,
      maxIntervalMs: 500,
    });
    const { ids, duplicates } = await downloadSummary(client, manifest);
    expect(duplicates).toEqual([]);
    expect(ids).toEqual({ Patient: [...(expectedKeys(PATIENTS).get('Patient') ?? [])].sort() });
    return managementOf(kickoff.body).statusQueryGetUri;
  }

  it('given a source that throttles (429, Retry-After: 1) a few times, when exporting, then the waits are honoured and the export is exact', async () => {
    const before = proxy.requests.length;
    proxy.addRule({
      match: patientSearch,
      times: 3,
      action: { kind: 'status', status: 429, retryAfter: '1' },
    });
    const statusQueryGetUri = await expectExactPatients('_type=Patient');
    expect(proxy.requests.slice(before).filter((r) => r.action === 'status')).toHaveLength(3);
    // Each throttled page was followed by a durable timer set at least Retry-After past the moment the
    // orchestrator learned of it (when the backend fires it is the backend's business).
    const waits = await throttleWaits(statusQueryGetUri, 'Patient');
    expect(waits).toHaveLength(3);
    for (const wait of waits) expect(wait.askedMs).toBeGreaterThanOrEqual(1000);
  });

  it('given a source whose CapabilityStatement is throttled (429, Retry-After: 1) at the start, when a system export runs, then the start waits it out and searches only the types the server lists', async () => {
    const before = proxy.requests.length;
    proxy.addRule({
      match: (r) => r.url.endsWith('/metadata'),
      times: 2,
      action: { kind: 'status', status: 429, retryAfter: '1' },
    });
    const statusQueryGetUri = await expectExactPatients();
    const requests = proxy.requests.slice(before);
    const metadata = requests.filter((r) => r.url.endsWith('/metadata')).map((r) => r.action);
    expect(metadata).toEqual(['status', 'status', 'pass']);
    // No guessed list of types: only what the CapabilityStatement lists is searched.
    const searched = new Set(requests.map((r) => /\/([A-Z][A-Za-z]+)\?/.exec(r.url)?.[1]).filter(Boolean));
    expect([...searched]).toEqual(['Patient']);
    const waits = await throttleWaits(statusQueryGetUri);
    expect(waits).toHaveLength(2);
    for (const wait of waits) expect(wait.askedMs).toBeGreaterThanOrEqual(1000);
  });

  it('given a source that is briefly down (503 a few times), when exporting, then it is retried and the export is exact', async () => {
    const before = proxy.requests.length;
    proxy.addRule({ match: patientSearch, times: 2, action: { kind: 'status', status: 503 } });
    await expectExactPatients('_type=Patient');
    expect(proxy.requests.slice(before).filter((r) => r.action === 'status')).toHaveLength(2);
  });

  it('given a source that stays down (503 forever), when exporting, then the job fails 503 after the retry budget', async () => {
    const before = proxy.requests.length;
    proxy.addRule({ match: patientSearch, action: { kind: 'status', status: 503 } });
    const { status, diagnostics } = await expectExportToFail(client, '$export', '_type=Patient');
    expect(status).toBe(503);
    expect(diagnostics).toMatch(/unavailable after every retry/);
    // EXPORT_RETRY_MAX_ATTEMPTS=3: three attempts, no more.
    expect(proxy.requests.slice(before).filter((r) => r.action === 'status')).toHaveLength(3);
  });
});
