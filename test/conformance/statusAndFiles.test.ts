/**
 * Bulk Data Access IG v2.0.0: status request (in progress, error, complete), the manifest, delete,
 * file requests, and the server's CapabilityStatement.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { gunzipSync } from 'node:zlib';
import { getCosmosClient } from '../../src/jobs/cosmosClient';
import { createCosmosJobStore } from '../../src/jobs/cosmosJobStore';
import { testConnectionInfo } from '../support/testEnv';
import { eventually } from '../support/e2eHelpers';
import { GATED_SOURCE_APP_ENV, startGatedFhirSource } from '../support/gatedFhirSource';
import {
  expectOperationOutcome,
  kickoff,
  request,
  runExport,
  seededResources,
  startApp,
  type ConformanceApp,
  type ExportResult,
} from './conformanceSupport';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** `X-Progress` once every unit's total is known: percent, resources written, total. */
const PERCENT = /^(\d+)% \((\d+) of (\d+) resources/;

describe('Bulk Data status, manifest, delete and file requests (IG v2.0.0)', () => {
  let target: ConformanceApp;
  let completed: ExportResult;
  let kickoffAt: number;

  // Small pages: a file is written in many blocks.
  beforeAll(async () => {
    target = await startApp({ EXPORT_RESOURCES_PER_PAGE: '2' });
    kickoffAt = Date.now();
    completed = await runExport(target, '$export', { query: '_type=Patient,Condition,Observation' });
  });
  afterAll(() => target.app.dispose());

  async function blobsOf(jobId: string): Promise<string[]> {
    const container = BlobServiceClient.fromConnectionString(
      testConnectionInfo().storageConnectionString,
    ).getContainerClient(target.app.container);
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: `${jobId}/` })) names.push(blob.name);
    return names;
  }
  const jobIdOf = (pollUrl: string) => pollUrl.slice(pollUrl.lastIndexOf('/') + 1);

  it('SHALL answer 202 while in progress; X-Progress under 100 characters with an honest percentage; Retry-After in whole seconds', async () => {
    // The same resources from a FHIR source that holds page searches after the first few until the
    // test lets them through: the export is seen in progress however fast the machine is.
    const source = await startGatedFhirSource(seededResources());
    const running = await startApp({
      EXPORT_RESOURCES_PER_PAGE: '2',
      SOURCE_KIND: 'fhir',
      FHIR_SOURCE_URL: source.baseUrl,
      ...GATED_SOURCE_APP_ENV,
    });
    const progress: string[] = [];
    try {
      const accepted = await kickoff(running.base, '$export', { headers: { 'Cache-Control': 'no-cache' } });
      const pollUrl = accepted.headers.get('content-location') as string;
      const poll = async (): Promise<number> => {
        const status = await request(pollUrl);
        if (status.status === 200) return 200;
        expect(status.status).toBe(202);
        expect(status.headers.get('retry-after')).toMatch(/^\d+$/);
        const text = status.headers.get('x-progress');
        if (text) progress.push(text);
        return 202;
      };
      await eventually('a 202 with a percentage while pages are held', async () => {
        await poll();
        return progress.some((p) => PERCENT.test(p)) ? true : undefined;
      });
      source.open();
      await eventually('the export to complete', async () => ((await poll()) === 200 ? true : undefined));
    } finally {
      await running.app.dispose();
      await source.close();
    }
    expect(progress.length).toBeGreaterThan(0);
    for (const text of progress) expect(text.length).toBeLessThan(100);
    // Once every unit reported its total, the percentage counts resources written against the total.
    const percents = progress.map((p) => PERCENT.exec(p)).filter((m) => m !== null);
    expect(percents.length).toBeGreaterThan(0);
    const total = seededResources().length;
    for (const [, percent, written, of] of percents) {
      expect(Number(of)).toBe(total);
      expect(Number(percent)).toBe(Math.min(99, Math.floor((Number(written) / total) * 100)));
    }
  });

  it('SHALL answer 200 with the manifest (transactionTime, request, requiresAccessToken, output, error) when complete', async () => {
    const response = await request(completed.pollUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const manifest = response.json as Record<string, unknown>;
    expect(Date.parse(String(manifest.transactionTime))).toBeGreaterThanOrEqual(kickoffAt - 1000);
    expect(Date.parse(String(manifest.transactionTime))).toBeLessThanOrEqual(Date.now());
    expect(manifest.request).toBe(`${target.base}/$export?_type=Patient,Condition,Observation`);
    expect(manifest.requiresAccessToken).toBe(true);
    expect(manifest.error).toEqual([]);
    const output = manifest.output as Array<{ type: string; url: string; count: number }>;
    expect(output.map((o) => o.type).sort()).toEqual(
      expect.arrayContaining(['Condition', 'Observation', 'Patient']),
    );
    for (const entry of output) {
      expect(entry.url).toMatch(
        /^http:\/\/[^/]+\/api\/_operations\/export\/[0-9a-f-]{36}\/files\/.+\.ndjson$/,
      );
      expect(entry.count).toBeGreaterThan(0);
    }
  });

  it("SHALL write NDJSON whose every line is a resource of the entry's type, as many as count", async () => {
    // runExport downloaded every file and checked each line's type and the counts.
    const seeded = seededResources();
    for (const type of ['Patient', 'Condition', 'Observation']) {
      expect(completed.resources.get(type)?.length).toBe(
        seeded.filter((r) => r.resourceType === type).length,
      );
    }
  });

  it('MAY send Expires on the completed manifest; the files stay available until then', async () => {
    const response = await request(completed.pollUrl);
    const expires = Date.parse(response.headers.get('expires') ?? '');
    expect(expires).toBeGreaterThan(Date.now() + 30 * 60_000);
    const file = await request(completed.manifest.output[0].url);
    expect(file.status).toBe(200);
  });

  it('SHALL serve files as application/fhir+ndjson, gzip-compressed when the client accepts gzip', async () => {
    const url = completed.manifest.output[0].url;
    const plain = await fetch(url, {
      headers: { 'Accept-Encoding': 'identity', Accept: 'application/fhir+ndjson' },
    });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('application/fhir+ndjson');
    expect(plain.headers.get('content-encoding')).toBeNull();
    const text = await plain.text();

    // node:http leaves the body compressed, so the bytes on the wire can be checked.
    const { request: httpRequest } = await import('node:http');
    const gzipped = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>(
      (resolve, reject) => {
        httpRequest(url, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        })
          .on('error', reject)
          .end();
      },
    );
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers['content-type']).toBe('application/fhir+ndjson');
    expect(gunzipSync(gzipped.body).toString('utf8')).toBe(text);
  });

  it('serves a byte range of a file (206, Content-Range) so that a client can resume a download; 416 past the end', async () => {
    const url = completed.manifest.output[0].url;
    const whole = await fetch(url, { headers: { 'Accept-Encoding': 'identity' } });
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    const bytes = Buffer.from(await whole.arrayBuffer());
    expect(whole.headers.get('content-length')).toBe(String(bytes.length));
    const size = bytes.length;

    const ranged = async (range: string) => {
      // A client that accepts gzip still gets the plain bytes of the range.
      const response = await fetch(url, { headers: { Range: range, 'Accept-Encoding': 'gzip' } });
      return { response, body: Buffer.from(await response.arrayBuffer()) };
    };
    const cases: Array<[string, number, number]> = [
      ['bytes=0-9', 0, 9],
      [`bytes=${size - 10}-`, size - 10, size - 1],
      ['bytes=-7', size - 7, size - 1],
      [`bytes=5-${size + 100}`, 5, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const { response, body } = await ranged(range);
      expect({ range, status: response.status }).toEqual({ range, status: 206 });
      expect(response.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
      expect(response.headers.get('content-length')).toBe(String(end - start + 1));
      expect(response.headers.get('content-encoding')).toBeNull();
      expect(body.equals(bytes.subarray(start, end + 1))).toBe(true);
    }

    const beyond = await ranged(`bytes=${size}-`);
    expect(beyond.response.status).toBe(416);
    expect(beyond.response.headers.get('content-range')).toBe(`bytes */${size}`);
    // Several ranges are not served: the whole file comes as a 200.
    const several = await fetch(url, { headers: { Range: 'bytes=0-1,4-5', 'Accept-Encoding': 'identity' } });
    expect(several.status).toBe(200);
    expect(Buffer.from(await several.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('SHOULD list, under handling=lenient, what was ignored as OperationOutcome NDJSON in the manifest error array', async () => {
    const done = await runExport(target, '$export', {
      query: '_type=Patient&_unknownThing=1&includeAssociatedData=LatestProvenanceResources',
      headers: { Prefer: 'respond-async, handling=lenient' },
    });
    expect(done.manifest.error).toHaveLength(1);
    const [entry] = done.manifest.error;
    expect(entry.type).toBe('OperationOutcome');
    expect(entry.url).toMatch(/^http:\/\//);
    const lines = (await target.client.download(entry.url))
      .split('\n')
      .filter((l) => l !== '')
      .map(
        (l) =>
          JSON.parse(l) as { resourceType: string; issue: Array<{ severity: string; diagnostics: string }> },
      );
    expect(lines).toHaveLength(entry.count ?? -1);
    expect(
      lines.every((o) => o.resourceType === 'OperationOutcome' && o.issue[0].severity === 'warning'),
    ).toBe(true);
    const said = lines.map((o) => o.issue[0].diagnostics).join(' ');
    expect(said).toMatch(/_unknownThing/);
    expect(said).toMatch(/includeAssociatedData/);
  });

  it('SHALL answer a failed export with its error status and an OperationOutcome (application/fhir+json)', async () => {
    // A deployment whose storage account cannot be reached: the job fails with 400 when it starts.
    const storage = testConnectionInfo().storageConnectionString;
    const unreachable = storage.replace(/BlobEndpoint=http:\/\/[^/;]+/i, 'BlobEndpoint=http://127.0.0.1:9');
    const broken = await startApp({
      EXPORT_STORAGE_CONNECTION_STRING: unreachable,
      EXPORT_STORAGE_MAX_TRIES: '1',
    });
    try {
      const accepted = await kickoff(broken.base, '$export', { query: '_type=Patient' });
      expect(accepted.status).toBe(202);
      const pollUrl = accepted.headers.get('content-location') as string;
      let status = await request(pollUrl);
      while (status.status === 202) {
        await sleep(100);
        status = await request(pollUrl);
      }
      const outcome = expectOperationOutcome(status, 400);
      expect(JSON.stringify(outcome)).toMatch(/reached/);
    } finally {
      await broken.app.dispose();
    }
  });

  it('SHALL answer 404 with an OperationOutcome for an unknown job', async () => {
    const base = completed.pollUrl.slice(0, completed.pollUrl.lastIndexOf('/'));
    expectOperationOutcome(await request(`${base}/00000000-0000-4000-8000-000000000000`), 404);
  });

  // The protocol only; a cancel mid-run (files written, then removed) is test/e2e/cancel.test.ts.
  it('SHALL accept DELETE of an export in progress (202), then answer polls with 404 and an OperationOutcome', async () => {
    const accepted = await kickoff(target.base, '$export', { headers: { 'Cache-Control': 'no-cache' } });
    const pollUrl = accepted.headers.get('content-location') as string;
    const deleted = await request(pollUrl, { method: 'DELETE' });
    expect(deleted.status).toBe(202);
    expectOperationOutcome(await request(pollUrl), 404);
    expectOperationOutcome(await request(pollUrl, { method: 'DELETE' }), 404);
  });

  it('DELETE of a completed export removes its files; the manifest and files then answer 404', async () => {
    const done = await runExport(target, '$export', { query: '_type=Patient' });
    const jobId = jobIdOf(done.pollUrl);
    expect((await blobsOf(jobId)).length).toBeGreaterThan(0);
    expect((await request(done.pollUrl, { method: 'DELETE' })).status).toBe(202);
    expect(await blobsOf(jobId)).toEqual([]);
    expectOperationOutcome(await request(done.pollUrl), 404);
    expectOperationOutcome(await request(done.manifest.output[0].url), 404);
  });

  it('after Expires the manifest and its files answer 404', async () => {
    const done = await runExport(target, '$export', { query: '_type=Patient' });
    const info = testConnectionInfo();
    const jobs = await createCosmosJobStore({
      client: getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey }),
      databaseId: target.app.database,
      containerId: 'jobs',
    });
    const job = await jobs.getJob(jobIdOf(done.pollUrl));
    await jobs.replaceJob({ ...job!, expiresAt: new Date(Date.now() - 1000).toISOString() });
    expectOperationOutcome(await request(done.pollUrl), 404);
    expectOperationOutcome(await request(done.manifest.output[0].url), 404);
  });

  it('SHALL publish a CapabilityStatement instantiating the bulk-data CapabilityStatement with the three export operations', async () => {
    const response = await request(`${target.base}/metadata`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const statement = response.json as Record<string, unknown> & {
      rest: Array<{
        operation: Array<{ name: string; definition: string; documentation: string }>;
        resource: Array<{
          type: string;
          operation: Array<{ name: string; definition: string; documentation: string }>;
        }>;
      }>;
    };
    expect(statement.resourceType).toBe('CapabilityStatement');
    expect(statement.instantiates).toContain('http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data');
    const system = statement.rest[0].operation;
    const byType = statement.rest[0].resource.flatMap((r) => r.operation);
    expect([...system, ...byType].map((o) => o.definition).sort()).toEqual([
      'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export',
      'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export',
      'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export',
    ]);
  });

  it('SHALL declare IG v3.0.0 and, for each export operation, the kick-off parameters it supports', async () => {
    const statement = (await request(`${target.base}/metadata`)).json as Record<string, unknown> & {
      rest: Array<{
        operation: Array<{ name: string; documentation: string }>;
        resource: Array<{ type: string; operation: Array<{ name: string; documentation: string }> }>;
      }>;
    };
    // The IG's CapabilityStatement canonical, in the version this server implements.
    expect(statement.instantiates).toContain(
      'http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data|3.0.0',
    );
    expect(statement.implementationGuide).toEqual([
      'http://hl7.org/fhir/uv/bulkdata/ImplementationGuide/hl7.fhir.uv.bulkdata|3.0.0',
    ]);
    const system = statement.rest[0].operation;
    const byType = statement.rest[0].resource.flatMap((r) => r.operation);
    for (const operation of [...system, ...byType]) {
      // Invoked as $export at every level.
      expect(operation.name).toBe('export');
      for (const parameter of [
        '_since',
        '_until',
        '_type',
        '_typeFilter',
        '_elements',
        'allowPartialManifests',
      ]) {
        expect(operation.documentation).toContain(`\`${parameter}\``);
      }
      expect(operation.documentation).toMatch(
        /Not supported: `includeAssociatedData`.*`organizeOutputBy` at the system level/,
      );
    }
    // `patient` applies to Patient and Group exports only.
    expect(system[0].documentation).not.toContain('`patient`');
    for (const operation of byType) expect(operation.documentation).toContain('`patient`');
    for (const operation of byType) expect(operation.documentation).toContain('- `organizeOutputBy`');
  });
});
