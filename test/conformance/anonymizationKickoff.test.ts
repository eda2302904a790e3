/**
 * The anonymization configuration of a de-identified export is read and checked at kick-off: every
 * error in it answers 400 with an OperationOutcome naming what is wrong, and creates no job record,
 * no pinned configuration and no orchestration (Microsoft's FHIR server finds these only in the job).
 * The app's export storage goes through a TCP proxy the test can cut, for the unreachable case.
 */
import { existsSync, readFileSync } from 'node:fs';
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { DEMO_GROUP_ID } from '../../dev/demo/seedDemo';
import { AppProcess } from '../support/appProcess';
import { SMALL_CONFIG, uploadConfig } from '../support/anonymizationConfigs';
import { countDocuments, countJobDocuments, traceFileOf } from '../support/e2eHelpers';
import { seedPatients } from '../support/exportFixtures';
import { startTcpFaultProxy, type TcpFaultProxy } from '../support/tcpFaultProxy';
import { testConnectionInfo } from '../support/testEnv';
import { azuriteConnectionString } from '../../dev/runtime/emulators';
import {
  BASE_ENV,
  expectOperationOutcome,
  kickoff,
  parameters,
  PATIENTS,
  type ConformanceApp,
} from './conformanceSupport';

const ONE_MB = 1024 * 1024;
const NO_CACHE = { 'Cache-Control': 'no-cache' };

describe('de-identified export: the anonymization configuration at kick-off', () => {
  let target: ConformanceApp;
  let blobProxy: TcpFaultProxy;

  beforeAll(async () => {
    const info = testConnectionInfo();
    const blob = new URL(info.blobEndpoint);
    blobProxy = await startTcpFaultProxy({ host: blob.hostname, port: Number(blob.port) });
    blob.port = String(blobProxy.port);
    const env: Record<string, string> = {
      ...BASE_ENV,
      EXPORT_STORAGE_CONNECTION_STRING: azuriteConnectionString(
        blob.toString().replace(/\/$/, ''),
        info.queueEndpoint,
        info.tableEndpoint,
      ),
      EXPORT_STORAGE_MAX_TRIES: '1',
    };
    const app = new AppProcess({ env });
    env.DURABLE_TRACE_FILE = traceFileOf(app);
    await seedPatients(app, PATIENTS);
    const base = await app.start();
    target = { app, client: new BulkDataClient(base), base };
  });
  afterAll(async () => {
    await target?.app.dispose();
    await blobProxy?.close();
  });

  /** Orchestrator invocations the app's durable trace recorded so far. */
  function orchestrations(): number {
    const file = traceFileOf(target.app);
    if (!existsSync(file)) return 0;
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"orchestrationTrigger"')).length;
  }

  /** Kicks off `init`, expects a 400 naming `named`, and that nothing was created for it. */
  async function expectRefused(
    init: Parameters<typeof kickoff>[2],
    named: RegExp,
    path = '$export',
    status = 400,
  ): Promise<Record<string, unknown>> {
    const before = {
      jobs: await countJobDocuments(target.app),
      pinned: await countDocuments(target.app, 'deid'),
      orchestrations: orchestrations(),
    };
    const answer = await kickoff(target.base, path, {
      ...init,
      headers: { ...NO_CACHE, ...(init?.headers ?? {}) },
    });
    const outcome = expectOperationOutcome(answer, status);
    const diagnostics = (outcome.issue as Array<{ diagnostics?: string }>).map((i) => i.diagnostics);
    expect(diagnostics.join('\n')).toMatch(named);
    expect({
      jobs: await countJobDocuments(target.app),
      pinned: await countDocuments(target.app, 'deid'),
      orchestrations: orchestrations(),
    }).toEqual(before);
    return outcome;
  }

  const query = (name: string, etag?: string) =>
    `_anonymizationConfig=${encodeURIComponent(name)}${etag === undefined ? '' : `&_anonymizationConfigEtag=${encodeURIComponent(etag)}`}`;

  it.each(['$export', 'Patient/$export', `Group/${DEMO_GROUP_ID}/$export`])(
    'given a configuration that does not exist, when %s is kicked off, then 400 names it and no job is created',
    async (path) => {
      await expectRefused(
        { query: query('no-such-config.json') },
        /no-such-config\.json was not found/,
        path,
      );
    },
  );

  it('given a POST naming a configuration that does not exist, then 400 names it and no job is created', async () => {
    await expectRefused(
      { body: parameters([['_anonymizationConfig', 'missing-too.json']]) },
      /missing-too\.json was not found/,
      'Patient/$export',
    );
  });

  it("given an etag that is not the blob's, with or without quotes, then 400 says the version differs", async () => {
    const { name } = await uploadConfig(SMALL_CONFIG);
    await expectRefused({ query: query(name, '0x8D000000000000') }, /is not at version "0x8D000000000000"/);
    await expectRefused({ query: query(name, '"0x8D000000000001"') }, /is not at version "0x8D000000000001"/);
  });

  it('given a configuration over 1 MB, then 400 says it is too large', async () => {
    const padding = ' '.repeat(ONE_MB);
    const { name } = await uploadConfig(`${JSON.stringify(SMALL_CONFIG)}${padding}`);
    await expectRefused({ query: query(name) }, /bytes; at most 1048576 bytes are allowed/);
  });

  it('given a configuration that is not JSON, then 400 says so', async () => {
    const { name } = await uploadConfig('fhirPathRules: [ not json');
    await expectRefused({ query: query(name) }, /cannot be used|not valid JSON/);
  });

  it('given a configuration with an invalid rule, then 400 names the rule by its index', async () => {
    const { name } = await uploadConfig({
      fhirPathRules: [
        { path: 'Patient.name', method: 'redact' },
        { path: 'Patient.birthDate', method: 'scramble' },
      ],
    });
    const outcome = await expectRefused({ query: query(name) }, /fhirPathRules\[1\]/);
    expect((outcome.issue as unknown[]).length).toBeGreaterThan(1);
  });

  it('given _anonymizationConfigCollectionReference, then 400 says it is not supported', async () => {
    await expectRefused(
      { query: '_anonymizationConfigCollectionReference=myacr.azurecr.io/deid:v1' },
      /_anonymizationConfigCollectionReference is not supported/,
    );
  });

  it('given storage that cannot be reached, then 503 with Retry-After and no job', async () => {
    const { name } = await uploadConfig(SMALL_CONFIG);
    blobProxy.refuse();
    try {
      const before = await countJobDocuments(target.app);
      const answer = await kickoff(target.base, '$export', { query: query(name), headers: NO_CACHE });
      expectOperationOutcome(answer, 503);
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await countJobDocuments(target.app)).toBe(before);
    } finally {
      blobProxy.accept();
    }
  });

  it('given a valid configuration with a byte-order mark and its etag unquoted, then 202 and the job records which configuration', async () => {
    const text = `\uFEFF${JSON.stringify(SMALL_CONFIG)}`;
    const { name, etag } = await uploadConfig(text);
    const before = orchestrations();
    const answer = await kickoff(target.base, '$export', {
      query: `${query(name, etag.replace(/"/g, ''))}&_type=Patient`,
      headers: NO_CACHE,
    });
    expect({ status: answer.status, body: answer.text }).toMatchObject({ status: 202 });
    const manifest = await target.client.waitForManifest(answer.headers.get('content-location') as string, {
      timeoutMs: 60_000,
    });
    expect((manifest as unknown as { extension?: unknown }).extension).toEqual({
      deidentification: {
        configuration: name,
        etag,
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        processingErrors: 'raise',
      },
    });
    // The trace the refusals are checked against does record an accepted export's orchestration.
    expect(orchestrations()).toBeGreaterThan(before);
  });

  it('given a collection reference under handling=lenient, then it is dropped with a warning and the blob configuration is used', async () => {
    const { name } = await uploadConfig(SMALL_CONFIG);
    const answer = await kickoff(target.base, '$export', {
      query: `${query(name)}&_anonymizationConfigCollectionReference=acr/x:1&_type=Patient`,
      headers: { ...NO_CACHE, Prefer: 'respond-async, handling=lenient' },
    });
    expect(answer.status).toBe(202);
    expect(answer.json?.warnings).toEqual([expect.stringMatching(/_anonymizationConfigCollectionReference/)]);
  });
});
