/**
 * Deleted resources of a `_since` export (Bulk Data Access IG v3.0.0, "Response - Complete Status",
 * the manifest's `deleted` array): files of `transaction` Bundles whose entries delete exactly the
 * resources deleted after `_since`, never listed in `output`; a source that cannot tell says so in
 * the `error` file. Both sources: the Cosmos DB source (tombstones) and the FHIR REST source (type
 * history of the FHIR test server).
 */
import type { BulkDataClient, Manifest } from '../../dev/client/bulkDataClient';
import { patientId } from '../../dev/demo/syntheticPatient';
import { resourceWriter } from '../support/exportFixtures';
import { startFhirTestServer, type FhirTestServer } from '../support/fhirTestServer';
import {
  exportedKeys,
  keys,
  runExport,
  seededResources,
  startApp,
  startFhirSourceApp,
  type ConformanceApp,
} from './conformanceSupport';

type Resource = Record<string, unknown> & { resourceType: string; id: string };
type Reference = { resourceType: string; id: string };

const TYPES = 'Patient,Observation,Condition';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How a test changes the source: deletes (now) and updates (stamped now). */
interface SourceChanges {
  remove(references: Reference[]): Promise<void>;
  update(resources: Resource[]): Promise<void>;
}

/** Every line of the manifest's `deleted` files, checked to be a transaction Bundle of DELETEs. */
async function deletedUrls(client: BulkDataClient, manifest: Manifest): Promise<string[]> {
  const urls: string[] = [];
  for (const file of manifest.deleted ?? []) {
    expect(file.type).toBe('Bundle');
    const lines = (await client.download(file.url, manifest.requiresAccessToken)).split('\n').filter(Boolean);
    expect(file.count).toBe(lines.length);
    for (const line of lines) {
      const bundle = JSON.parse(line) as { resourceType: string; type: string; entry: unknown[] };
      expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'transaction' });
      expect(bundle.entry.length).toBeGreaterThan(0);
      for (const entry of bundle.entry as Array<{ request: { method: string; url: string } }>) {
        expect(entry.request.method).toBe('DELETE');
        urls.push(entry.request.url);
      }
    }
  }
  return urls.sort();
}

/** The `error` file lines of a manifest, as OperationOutcome diagnostics. */
async function errorDiagnostics(client: BulkDataClient, manifest: Manifest): Promise<string[]> {
  const texts: string[] = [];
  for (const file of manifest.error) {
    const text = await client.download(file.url, manifest.requiresAccessToken);
    for (const line of text.split('\n').filter(Boolean)) {
      const outcome = JSON.parse(line) as { issue: Array<{ diagnostics?: string }> };
      texts.push(...outcome.issue.map((i) => i.diagnostics ?? ''));
    }
  }
  return texts;
}

/**
 * Deletes one resource, notes `_since`, deletes some and updates others; an export with that
 * `_since` must list exactly the later deletions and write the updated resources.
 */
async function deletionScenario(target: ConformanceApp, changes: SourceChanges): Promise<void> {
  const seeded = seededResources();
  const find = (type: string, n: number) => seeded.filter((r) => r.resourceType === type)[n];
  const early = { resourceType: 'Patient', id: patientId(4) };
  await changes.remove([early]);
  await sleep(50);
  const since = new Date().toISOString();
  await sleep(50);
  const deleted = [find('Patient', 0), find('Observation', 0), find('Observation', 1)];
  await changes.remove(deleted);
  const updated = [find('Condition', 0), find('Observation', 2)].map((r) => ({
    ...r,
    meta: { lastUpdated: new Date().toISOString() },
  }));
  await changes.update(updated);

  const { manifest, resources } = await runExport(target, '$export', {
    query: `_type=${TYPES}&_since=${encodeURIComponent(since)}`,
  });
  const urls = await deletedUrls(target.client, manifest);
  expect(urls).toEqual(keys(deleted));
  expect(urls).not.toContain(`Patient/${early.id}`);
  expect(exportedKeys(resources)).toEqual(keys(updated));
  expect(manifest.error).toEqual([]);
}

describe('Deleted resources since _since, Cosmos DB source (IG v3.0.0 manifest deleted)', () => {
  let target: ConformanceApp;
  beforeAll(async () => {
    target = await startApp();
  });
  afterAll(() => target.app.dispose());

  it('SHOULD list, for a _since export, the resources deleted after _since as transaction Bundles in deleted, the updated ones in output', async () => {
    const writer = await resourceWriter(target.app);
    await deletionScenario(target, {
      remove: async (references) => void (await writer.deleteAll(references)),
      update: async (resources) => {
        const result = await writer.upsertAll(resources as never);
        expect(result.failed).toEqual([]);
      },
    });
  });

  it('changes nothing without _since: no deleted array, nothing deleted in output', async () => {
    const { manifest, resources } = await runExport(target, '$export', { query: `_type=${TYPES}` });
    expect(manifest.deleted).toBeUndefined();
    expect(exportedKeys(resources)).not.toContain(`Patient/${patientId(1)}`);
    expect(manifest.error).toEqual([]);
  });
});

describe('Deleted resources since _since, FHIR REST source (IG v3.0.0 manifest deleted)', () => {
  let server: FhirTestServer;
  let target: ConformanceApp;
  beforeAll(async () => {
    server = await startFhirTestServer({ typeHistory: true, linkStyle: 'cursor', defaultCount: 5 });
    await server.seed(seededResources());
    target = await startFhirSourceApp(server.baseUrl);
  });
  afterAll(async () => {
    await target?.app.dispose();
    await server?.close();
  });

  it('SHOULD list, for a _since export, the resources deleted after _since (read from type history) as transaction Bundles in deleted', async () => {
    await deletionScenario(target, {
      remove: (references) => server.remove(references),
      update: (resources) => server.update(resources),
    });
    expect(server.requests.some((r) => r.url.includes('/Observation/_history?'))).toBe(true);
  });
});

describe('Deleted resources since _since, FHIR REST source without type history', () => {
  let server: FhirTestServer;
  let target: ConformanceApp;
  beforeAll(async () => {
    server = await startFhirTestServer();
    await server.seed(seededResources());
    target = await startFhirSourceApp(server.baseUrl);
  });
  afterAll(async () => {
    await target?.app.dispose();
    await server?.close();
  });

  it('states in the error file that deletions are not reported for types without history-type, never silently', async () => {
    await server.remove([{ resourceType: 'Patient', id: patientId(1) }]);
    const { manifest } = await runExport(target, '$export', {
      query: `_type=Patient,Condition&_since=${encodeURIComponent('2000-01-01T00:00:00Z')}`,
    });
    expect(manifest.deleted).toEqual([]);
    const diagnostics = await errorDiagnostics(target.client, manifest);
    expect(diagnostics.sort()).toEqual([
      expect.stringMatching(
        /^Deleted Condition resources are not reported: .*type-level history \(history-type\)/,
      ),
      expect.stringMatching(
        /^Deleted Patient resources are not reported: .*type-level history \(history-type\)/,
      ),
    ]);
    expect(server.requests.some((r) => r.url.includes('_history'))).toBe(false);
  });
});
